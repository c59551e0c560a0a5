import { kpaVersion } from '../version.js';
import { didYouMean } from '../config/suggest.js';
import { type Command, type CommandContext, FileArgumentError, InputFileError, UsageError } from './usage.js';

interface CommandModule { run: Command; usage: string }

interface CommandEntry {
  /** What `kpa --help` says of the command: the full usage is its module's, loaded only for `kpa COMMAND --help`. */
  summary: string;
  load: () => Promise<CommandModule>;
}

/**
 * Each command is loaded only when it runs: `kpa activator`, a data-plane
 * process, must not carry the autoscaler's HTTP app, Kubernetes client and
 * simulator in its memory (about 80 MB of RSS), nor `kpa replay` and
 * `kpa --help` wait for them to load (a second and more).
 */
const COMMANDS: Record<string, CommandEntry> = {
  run: {
    summary: 'the autoscaler service: Kubernetes Deployments, a targets file or an embedded demo',
    load: async () => { const m = await import('./runCommand.js'); return { run: (ctx) => m.runCommand(ctx), usage: m.RUN_USAGE }; },
  },
  activator: {
    summary: 'the request-path proxy: holds requests while a revision scales from zero, reports its load',
    load: async () => { const m = await import('./activatorCommand.js'); return { run: (ctx) => m.activatorCommand(ctx), usage: m.ACTIVATOR_USAGE }; },
  },
  replay: {
    summary: 'feeds a recording through the collector and decider, one decision per tick',
    load: async () => { const m = await import('./replayCommand.js'); return { run: m.replayCommand, usage: m.REPLAY_USAGE }; },
  },
  simulate: {
    summary: 'runs a traffic scenario against the autoscaler in virtual time and reports',
    load: async () => { const m = await import('./simulateCommand.js'); return { run: m.simulateCommand, usage: m.SIMULATE_USAGE }; },
  },
  sweep: {
    summary: 'runs a scenario for every combination of autoscaler settings',
    load: async () => { const m = await import('./sweepCommand.js'); return { run: m.sweepCommand, usage: m.SWEEP_USAGE }; },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    'usage: kpa <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    '"kpa <command> --help" shows the command\'s options; "kpa --version" prints the version.',
  ].join('\n');
}

/** Runs the CLI; resolves with the exit status. Exported for tests. */
export async function main(argv: string[], io: Omit<CommandContext, 'args'>): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    // A usage error like any other: standard error, exit status 2.
    io.stderr.write(`kpa: no command given\n\n${usage()}\n`);
    return 2;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    io.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (name === '--version') {
    io.stdout.write(`${kpaVersion()}\n`);
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    io.stderr.write(`kpa: unknown ${name.startsWith('-') ? 'option' : 'command'} ${JSON.stringify(name)}${didYouMean(name, [...Object.keys(COMMANDS), '--help', '--version'])}\n\n${usage()}\n`);
    return 2;
  }
  const command = await entry.load();
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
