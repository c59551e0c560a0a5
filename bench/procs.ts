import { type ChildProcess, spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Process plumbing for the benchmarks that run real servers side by side:
 * CPU pinning with taskset, CPU time and RSS from /proc, and a registry of
 * every process started so that all of them die with the bench, whatever
 * happens (a last SIGKILL on exit).
 */

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).error === undefined;
/** Clock ticks per second, the unit of utime/stime in /proc/PID/stat. */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

export const pinningAvailable = hasTaskset;

/** Processes (and extra pids, such as nginx's worker) to kill when the bench exits. */
const owned = new Set<number>();
process.once('exit', () => {
  for (const pid of owned) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch { /* gone */ }
  }
});

export function own(pid: number): void {
  owned.add(pid);
}

export function alive(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

/**
 * Starts `command args` pinned to `cpu` (taskset execs it, so the pid is the
 * command's own and every thread it starts inherits the CPU mask).
 */
export function spawnPinned(cpu: number | null, command: string, args: string[], stdio: StdioOptions, env?: NodeJS.ProcessEnv): ChildProcess {
  const [cmd, argv] = cpu !== null && hasTaskset ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
  const proc = spawn(cmd, argv, { stdio, env: env ?? process.env });
  if (proc.pid !== undefined) own(proc.pid);
  proc.once('exit', () => proc.pid !== undefined && owned.delete(proc.pid));
  return proc;
}

/** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILL. Resolves with how long the exit took (ms). */
export async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<number> {
  const start = performance.now();
  if (!alive(proc)) return 0;
  const exited = once(proc, 'exit');
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  return performance.now() - start;
}

function statFields(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is in parentheses and may hold spaces: split after the last ')'; index 0 is field 3 (state).
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a process (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Busy and total time of one CPU so far (from /proc/stat, in clock ticks): busy/total between two reads is its utilisation. */
export function cpuTimes(cpu: number): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return { busy: NaN, total: NaN };
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + (steal || 0);
  return { busy, total: busy + idle + iowait };
}

/** VmRSS and VmHWM of a process, in bytes. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** The pids whose parent is `ppid`. */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[1]) === ppid) out.push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/** Resolves once a TCP connect to host:port succeeds; throws after `timeoutMs`. */
export async function waitForPort(host: string, port: number, timeoutMs: number, exited?: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (exited?.()) throw new Error(`the process meant to listen on ${host}:${port} exited`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => (s.destroy(), resolve(false)));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}

/** A port nothing listens on (yet): bound, read, closed. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Runs a command to its end (bounded by `timeoutMs`), collecting its output. */
export async function runBounded(cpu: number | null, command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawnPinned(cpu, command, args, ['ignore', 'pipe', 'pipe']);
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => {
    proc.once('close', (c: number | null) => resolve(c));
    proc.once('error', (err) => {
      stderr += String(err);
      resolve(null);
    });
  });
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** A forked child's one IPC message, or an error naming `what` if it exits first. */
export async function childReply<T>(proc: ChildProcess, what: string): Promise<T> {
  const [message] = (await Promise.race([once(proc, 'message'), once(proc, 'exit')])) as unknown[];
  if (typeof message !== 'object' || message === null) throw new Error(`${what} child failed (exit ${String(message)})`);
  return message as T;
}

/** Asks a forked child to stop (any IPC message) and waits for its exit. */
export async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  if (proc.connected) proc.send('stop');
  await exited;
}

const USAGE = fileURLToPath(new URL('./usageReport.js', import.meta.url));

/** A node process run to its end: wall time from spawn to exit, its own CPU time and peak RSS. */
export interface ProcessRun {
  wallSeconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
}

/** Runs node with `args` to its end, output discarded; wall from spawn to exit, CPU and peak RSS from the process itself. */
export async function timed(args: string[], env: NodeJS.ProcessEnv = process.env, withUsage = true): Promise<ProcessRun> {
  const dir = mkdtempSync(join(tmpdir(), 'kpa-bench-usage-'));
  const usageFile = join(dir, 'usage.json');
  const start = performance.now();
  const child = spawn(process.execPath, withUsage ? ['--import', USAGE, ...args] : args, {
    stdio: ['ignore', 'ignore', 'inherit'], env: { ...env, KPA_BENCH_USAGE: usageFile },
  });
  if (child.pid !== undefined) own(child.pid);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const wallSeconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}`);
  const usage = withUsage ? (JSON.parse(readFileSync(usageFile, 'utf8')) as Omit<ProcessRun, 'wallSeconds'>) : { cpuSeconds: NaN, maxRssBytes: NaN };
  rmSync(dir, { recursive: true, force: true });
  return { wallSeconds, ...usage };
}
