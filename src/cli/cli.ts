import { ACTIVATOR_USAGE, activatorCommand } from './activatorCommand.js';
import { type Command, type CommandContext, FileArgumentError, UsageError } from './usage.js';
import { REPLAY_USAGE, replayCommand } from './replayCommand.js';
import { RUN_USAGE, runCommand } from './runCommand.js';
import { SIMULATE_USAGE, simulateCommand } from './simulateCommand.js';
import { SWEEP_USAGE, sweepCommand } from './sweepCommand.js';

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  replay: { run: replayCommand, usage: REPLAY_USAGE },
  run: { run: (ctx) => runCommand(ctx), usage: RUN_USAGE },
  activator: { run: (ctx) => activatorCommand(ctx), usage: ACTIVATOR_USAGE },
  simulate: { run: simulateCommand, usage: SIMULATE_USAGE },
  sweep: { run: sweepCommand, usage: SWEEP_USAGE },
};

function usage(): string {
  return ['usage: kpa <command> [options]', '', ...Object.values(COMMANDS).map((c) => c.usage)].join('\n');
}

/** Runs the CLI; resolves with the exit status. Exported for tests. */
export async function main(argv: string[], io: Omit<CommandContext, 'args'>): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`kpa: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run({ ...io, args });
  } catch (err) {
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`kpa ${name}: ${(err as Error).message}\n\n${command.usage}\n`);
      return 2;
    }
    if (err instanceof FileArgumentError) {
      io.stderr.write(`kpa ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
