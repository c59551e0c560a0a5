import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/cli.js';

/** Runs the kpa CLI in-process with captured streams; `env` replaces process.env for what the CLI reads of it (KUBECONFIG, HOME, …). */
export async function runCli(argv: string[], stdinText = '', env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(argv, {
    stdin: Readable.from([stdinText]),
    stdout,
    stderr,
    stopSignal: new AbortController().signal,
    env,
  });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** The built kpa binary, package.json's bin (the bundle scripts/bundleCli.mjs writes), from the project root. */
export const KPA_BIN = 'dist/kpa/main.js';

/** The built kpa binary, started with `args`, once it has logged its HTTP port. */
export interface KpaProcess {
  child: import('node:child_process').ChildProcessWithoutNullStreams;
  port: number;
  stderr(): string;
  stdout(): string;
  /** Sends the signal and resolves with the exit code and how long it took. */
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  /** Cleanup for `finally`: SIGKILL if it is still running. */
  kill(): void;
}

export async function spawnKpa(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<KpaProcess> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [KPA_BIN, ...args], { env, stdio: 'pipe' });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kpa did not start within 20 s: ${stderr}`));
    }, 20_000);
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /"httpPort":(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`kpa exited early: ${stderr}`));
    });
  });
  return {
    child, port, stderr: () => stderr, stdout: () => stdout,
    async stop(signal) {
      const started = Date.now();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      child.kill(signal);
      return { code: await exited, ms: Date.now() - started };
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
