import { pino, type Logger } from "pino";

/** Structured JSON logs; credentials are redacted wherever they appear in a logged object. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: "openci-relay" },
      redact: {
        paths: [
          "privateKey", "*.privateKey", "token", "*.token", "secret", "*.secret",
          "headers.authorization", "*.headers.authorization", "request.headers.authorization",
          "err.request.headers.authorization", "err.cause.request.headers.authorization",
          // Probot's request log: webhook secrets and signatures travel in headers
          'req.headers["x-gitlab-token"]', 'req.headers["x-hub-signature-256"]', 'req.headers["x-hub-signature"]',
          "req.headers.authorization", "req.headers.cookie",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
