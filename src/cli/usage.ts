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
}

/** A subcommand resolves with its exit status. */
export type Command = (ctx: CommandContext) => Promise<number>;
