import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from '../config/suggest.js';

/** A command-line mistake: printed with the usage, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What a subcommand gets: its arguments and the process streams (injectable for tests). */
export interface CommandContext {
  args: string[];
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Resolves when the user asks to stop (SIGINT/SIGTERM). */
  stopSignal: AbortSignal;
  /** The environment (KUBECONFIG, HOME, …); process.env when not given. */
  env?: NodeJS.ProcessEnv;
}

/** A subcommand resolves with its exit status. */
export type Command = (ctx: CommandContext) => Promise<number>;

/** A file or directory named on the command line cannot be used: printed without the usage, exit status 2. */
export class FileArgumentError extends Error {
  /** `cause`: the failed file operation's error, or kpa's own reason. */
  constructor(readonly option: string, readonly path: string, cause: Error | string) {
    super(`${option} ${path}: ${typeof cause === 'string' ? cause : fileErrorReason(cause)}`);
    this.name = 'FileArgumentError';
  }
}

function fileErrorReason(cause: Error): string {
  // Node says "ENOENT: no such file or directory, open '/x'": keep the reason, the path is already named.
  const reason = cause.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  const code = (cause as NodeJS.ErrnoException).code;
  return `${reason}${code && !reason.includes(code) ? ` (${code})` : ''}`;
}

/** A file named on the command line that cannot be read or holds a mistake: printed as is, exit status 2. */
export class InputFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputFileError';
  }
}

/**
 * Reads and parses a file named on the command line. A file that is not
 * there (or not readable) and a mistake the parser names (`isMistake`) are
 * InputFileErrors naming the file; anything else is a bug and propagates.
 */
export function readInputFile<T>(file: string, parse: (text: string) => T, isMistake: (err: unknown) => err is Error): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EISDIR' || e.code === 'EACCES') throw new InputFileError(`cannot read ${file}: ${e.message}`);
    throw err;
  }
  try {
    return parse(text);
  } catch (err) {
    if (isMistake(err)) throw new InputFileError(`${file}: ${err.message}`);
    throw err;
  }
}

/** A command's option table, as node's parseArgs takes it: one per command, so flags, checks and suggestions share it. */
export type OptionTable = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs, strict, with an unknown flag a UsageError that suggests the
 * closest of the command's own flags: `Unknown option '--stat-port' (did
 * you mean --stats-port?)`.
 */
export function parseCommandArgs<O extends OptionTable>(args: string[], options: O, allowPositionals: boolean) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const typed = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-[^']*)'/.exec(e.message)?.[1] : undefined;
    if (typed === undefined) throw err;
    const flags = Object.keys(options).map((name) => `--${name}`);
    // Node's own words first ("Unknown option '--x'"), then the suggestion.
    throw new UsageError(`Unknown option '${typed}'${didYouMean(typed.replace(/=.*$/, ''), flags, (f) => f)}`);
  }
}

/**
 * Which modes each flag of a command applies to, one row per option of its
 * table (a new option without a row does not compile), and why not
 * elsewhere where that is not obvious.
 */
export type FlagModes<O extends OptionTable, M extends string> = { readonly [F in keyof O]: { readonly modes: readonly M[]; readonly why?: string } };

/**
 * Refuses a flag given for a mode it does not apply to: `--dry-run applies
 * to Kubernetes mode, not to the embedded demo (--embedded): …`.
 * `describe` names a mode in the list, `current` says what this run is.
 */
export function checkFlagModes<O extends OptionTable, M extends string>(
  values: Readonly<Record<string, unknown>>, table: FlagModes<O, M>, mode: M, describe: (mode: M) => string, current: string,
): void {
  for (const [flag, row] of Object.entries(table) as [string, { modes: readonly M[]; why?: string }][]) {
    if (values[flag] === undefined || row.modes.includes(mode)) continue;
    const modes = row.modes.map(describe);
    const list = modes.length === 1 ? modes[0] : `${modes.slice(0, -1).join(', ')} or ${modes.at(-1)}`;
    throw new UsageError(`--${flag} applies to ${list}, not to ${current}${row.why ? `: ${row.why}` : ''}`);
  }
}

/** A port flag (0 picks a free port): digits only, at most 65535. */
export function portOption(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`${flag} must be a port number (0-65535), got ${JSON.stringify(value)}`);
  return n;
}

/** A flag holding a positive finite number (e.g. 1e6), or `fallback` when not given. */
export function positiveNumberOption(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${flag} must be a positive number such as 1e6, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * The message for a port another process holds (a listen error with
 * EADDRINUSE), naming the flag that sets it; null for any other error.
 * `ports` maps each flag to the port it asked for.
 */
export function portInUseMessage(err: unknown, ports: Readonly<Record<string, number>>): string | null {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e?.code !== 'EADDRINUSE') return null;
  const flags = Object.keys(ports);
  const flag = flags.find((f) => ports[f] !== 0 && ports[f] === e.port);
  const where = e.port === undefined ? 'a port' : `port ${e.port}${e.address ? ` on ${e.address}` : ''}`;
  return flag
    ? `${where} (${flag}) is in use by another process; pick another with ${flag} N (0 = any free port)`
    : `${where} is in use by another process; pick others with ${flags.join('/')} (0 = any free port)`;
}

/** Resolves when the user asks to stop (SIGINT/SIGTERM). */
export function stopped(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
