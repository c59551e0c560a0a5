import { type Command, type CommandContext, FileArgumentError, InputFileError, UsageError } from './usage.js';

interface CommandModule { run: Command; usage: string }

/**
 * Each command is loaded only when it runs: `kpa activator`, a data-plane
 * process, must not carry the autoscaler's HTTP app, Kubernetes client and
 * simulator in its memory (about 80 MB of RSS), nor wait for them to load.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  replay: async () => { const m = await import('./replayCommand.js'); return { run: m.replayCommand, usage: m.REPLAY_USAGE }; },
  run: async () => { const m = await import('./runCommand.js'); return { run: (ctx) => m.runCommand(ctx), usage: m.RUN_USAGE }; },
  activator: async () => { const m = await import('./activatorCommand.js'); return { run: (ctx) => m.activatorCommand(ctx), usage: m.ACTIVATOR_USAGE }; },
  simulate: async () => { const m = await import('./simulateCommand.js'); return { run: m.simulateCommand, usage: m.SIMULATE_USAGE }; },
  sweep: async () => { const m = await import('./sweepCommand.js'); return { run: m.sweepCommand, usage: m.SWEEP_USAGE }; },
};

async function usage(): Promise<string> {
  const all = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  return ['usage: kpa <command> [options]', '', ...all.map((c) => c.usage)].join('\n');
}

/** Runs the CLI; resolves with the exit status. Exported for tests. */
export async function main(argv: string[], io: Omit<CommandContext, 'args'>): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.stdout.write(`${await usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    io.stderr.write(`kpa: unknown command "${name}"\n\n${await usage()}\n`);
    return 2;
  }
  const command = await load();
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
    if (err instanceof FileArgumentError || err instanceof InputFileError) {
      io.stderr.write(`kpa ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
