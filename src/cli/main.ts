#!/usr/bin/env node
import { main } from './cli.js';

async function runFromShell(): Promise<void> {
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => stop.abort(signal));
  }
  // A closed pipe downstream (`kpa replay f | head`) is a normal end, not a crash.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  try {
    process.exitCode = await main(process.argv.slice(2), {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      stopSignal: stop.signal,
    });
  } catch (err) {
    process.stderr.write(`kpa: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
  // Idle keep-alive sockets of the scraper must not hold a stopped service open.
  setTimeout(() => process.exit(), 1000).unref();
}

await runFromShell();
