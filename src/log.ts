import { pino, type Logger as PinoLogger } from 'pino';

/**
 * The project's logger: pino, the logger fastify itself uses, so the service,
 * the stat server, the scraper and the Kubernetes adapter all log the same
 * JSON lines. Adapters take a Logger; the pure core never logs.
 */
export type Logger = PinoLogger;

/** A JSON logger on standard error (level from KPA_LOG_LEVEL, default info). */
export function createLogger(level = process.env.KPA_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'kpa' } }, pino.destination(2));
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
