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
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
