import { pino, type Logger } from "pino";
import { PinoPretty } from "pino-pretty";

export type LogFormat = "json" | "pretty";

/**
 * Structured logs; credentials are redacted wherever they appear in a logged object. JSON lines
 * for machines (production, a file, a pipe); one readable line per entry for a person at a
 * terminal (pino-pretty, in this thread, so nothing is lost on exit).
 */
export function createLogger(level: string, destination?: pino.DestinationStream, format: LogFormat = "json"): Logger {
  const options: pino.LoggerOptions = {
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
  };
  if (format === "json") return pino(options, destination);
  const pretty = PinoPretty({
    colorize: destination === undefined && process.stdout.isTTY === true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,name",
    sync: true,
    ...(destination ? { destination: destination as NodeJS.WritableStream } : {}),
  });
  return pino(options, pretty);
}

/** LOG_FORMAT when set; otherwise pretty on a terminal and JSON anywhere else (a container's log, a file, a pipe). */
export function logFormatFor(setting: LogFormat | undefined, isTty: boolean | undefined): LogFormat {
  return setting ?? (isTty === true ? "pretty" : "json");
}
