import { pino, type Logger as PinoLogger } from 'pino';

/**
 * The project's logger: pino, the logger fastify itself uses, so the service,
 * the stat server, the scraper and the Kubernetes adapter all log the same
 * JSON lines. Adapters take a Logger; the pure core never logs.
 */
export type Logger = PinoLogger;

/**
 * The shape of every line: the level by name and the time in ISO 8601 UTC,
 * `{"level":"info","time":"2025-01-01T12:00:00.000Z","app":"kpa",…,"msg":…}`,
 * readable as it is and by log pipelines that do not know pino's numbers;
 * a revision is logged as separate `namespace` and `revision` fields.
 */
export const LOG_FORMAT = {
  formatters: { level: (label: string) => ({ level: label }) },
  timestamp: pino.stdTimeFunctions.isoTime,
} as const;

/** A JSON logger on standard error (level from KPA_LOG_LEVEL, default info). */
export function createLogger(level = process.env.KPA_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'kpa' }, ...LOG_FORMAT }, pino.destination(2));
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
