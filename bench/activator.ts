import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchResult, table } from './harness.js';
import { ensureNginx, type RunningNginx, startNginx } from './nginx.js';
import { alive, cpuSeconds, cpuTimes, freePort, memory, pinningAvailable, runBounded, sleep, spawnPinned, stopProcess } from './procs.js';

/**
 * The request path: `kpa activator` (its own process, as `kpa activator
 * --routes FILE` runs) next to Debian's nginx, both reverse proxies to the
 * same small node:http upstream, in one run.
 *
 * 1. Throughput on one core with keep-alive: the proxy (the activator, or
 *    nginx's single worker) pinned to CPU 0; the upstream and `wrk -t1 -c50`
 *    pinned to CPU 1. Three rounds of direct / activator / nginx, 10 s each,
 *    interleaved so that drift on a shared machine hits all three alike;
 *    requests per second and per CPU-second of the proxy process (utime +
 *    stime from /proc/PID/stat, all threads).
 * 2. Latency added at 1,000 req/s: an open-loop generator (its own process)
 *    sends on a fixed schedule and measures from the scheduled send time, so
 *    a stall is charged to every request it delays (no coordinated omission);
 *    direct, activator and nginx take 1 s turns, 10 s each in all.
 * 3. RSS while 10,000 requests are held for a target with no endpoint ready
 *    (its only endpoint a closed port); the clients are their own process,
 *    as the file-descriptor limit is per process.
 */
const PROXY_CPU = 0;
const LOAD_CPU = 1;
const HOST = 'hello.bench';
const HOLD_HOST = 'hold.bench';
const WRK_CONNECTIONS = 50;
const WRK_SECONDS = 10;
const WARMUP_SECONDS = 3;
const ROUNDS = 3;
const RATE = 1_000;
/** The targets take turns in slices this long; each one's first slice is its warm-up. */
const OPEN_LOOP_SLICE_MS = 1_000;
const OPEN_LOOP_MS = 10_000;
/** After the last scheduled send, how long the generator waits for stragglers (then they count as unanswered). */
const OPEN_LOOP_GRACE_MS = 5_000;
const HELD = 10_000;
const HELD_WAIT_MS = 60_000;
/** Every child gives up on its own after this, whatever happens here. */
const CHILD_LIMIT_MS = 300_000;
const MODE = { upstream: 'activator-upstream', openLoop: 'activator-open-loop', holders: 'activator-holders' } as const;

const self = fileURLToPath(import.meta.url);
const mainJs = fileURLToPath(new URL('../kpa/main.js', import.meta.url));

// ---------------------------------------------------------------- children

/** Child: the upstream, answering a short body to everything. */
async function upstream(): Promise<void> {
  setTimeout(() => process.exit(0), CHILD_LIMIT_MS).unref();
  const body = Buffer.from('hello from the upstream\n');
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
  });
  // Longer than either proxy keeps an idle upstream connection, so neither races a close by the upstream.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.on('message', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
  process.send?.({ port: (server.address() as AddressInfo).port });
}

interface OpenLoopFigures {
  measured: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** From the actual send (what a closed-loop tool would see). */
  serviceP99: number;
  /** How late the generator itself sent, against the schedule. */
  lagP50: number;
  lagP99: number;
  errors: number;
  non200: number;
  unanswered: number;
  /** The most requests in flight at once. */
  maxInFlight: number;
}

const nowMs = (): number => {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
};

function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Child: `rate` requests/s on a fixed schedule, latency counted from each
 * request's scheduled send time. The targets take turns in slices of
 * `sliceMs` (direct, activator, nginx, direct, …), so that a noisy stretch
 * of a shared machine lands on all of them alike; the first slice of each is
 * a warm-up, then `measureMs` of slices per target are measured.
 */
async function openLoop(urls: string[], host: string, rate: number, sliceMs: number, measureMs: number): Promise<void> {
  const n = urls.length;
  const perSlice = Math.round((rate * sliceMs) / 1000);
  const measuredSlices = Math.round(measureMs / sliceMs);
  const total = n * (1 + measuredSlices) * perSlice;
  const intervalMs = 1000 / rate;
  setTimeout(() => process.exit(3), total * intervalMs + OPEN_LOOP_GRACE_MS + 20_000).unref();
  const measured = measuredSlices * perSlice;
  const targets = urls.map((url) => ({
    url: new URL(url),
    agent: new Agent({ keepAlive: true, maxSockets: 64 }),
    latency: new Float64Array(measured).fill(Infinity),
    service: new Float64Array(measured).fill(Infinity),
    lag: new Float64Array(measured),
    errors: 0, non200: 0, pending: 0, maxInFlight: 0,
  }));
  let pending = 0;
  let next = 0;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const fire = (i: number, scheduled: number): void => {
    const slot = Math.floor(i / perSlice);
    const t = targets[slot % n];
    const round = Math.floor(slot / n);
    const k = round === 0 ? -1 : (round - 1) * perSlice + (i % perSlice);
    const sent = nowMs();
    pending++;
    if (++t.pending > t.maxInFlight) t.maxInFlight = t.pending;
    let finished = false;
    const finish = (status: number | null): void => {
      if (finished) return;
      finished = true;
      pending--;
      t.pending--;
      const end = nowMs();
      if (k >= 0) {
        t.lag[k] = sent - scheduled;
        if (status === null) t.errors++;
        else {
          if (status !== 200) t.non200++;
          t.latency[k] = end - scheduled;
          t.service[k] = end - sent;
        }
      }
      if (next >= total && pending === 0) allDone();
    };
    const req = request({ host: t.url.hostname, port: t.url.port, path: '/', agent: t.agent, headers: { host } }, (res) => {
      res.once('end', () => finish(res.statusCode ?? 0));
      res.once('error', () => finish(null));
      res.resume();
    });
    req.once('error', () => finish(null));
    req.end();
  };
  const start = nowMs() + 20;
  const tick = (): void => {
    const now = nowMs();
    // Catch up on every send that is due: a late timer delays them, the latency counts from the schedule.
    while (next < total && start + next * intervalMs <= now) {
      fire(next, start + next * intervalMs);
      next++;
    }
    if (next < total) setTimeout(tick, Math.max(0, Math.floor(start + next * intervalMs - nowMs())));
  };
  tick();
  const lastSend = start + total * intervalMs;
  await Promise.race([done, sleep(lastSend - nowMs() + OPEN_LOOP_GRACE_MS)]);
  const figures: OpenLoopFigures[] = targets.map((t) => {
    t.agent.destroy();
    t.latency.sort();
    t.service.sort();
    t.lag.sort();
    return {
      measured, p50: quantile(t.latency, 0.5), p99: quantile(t.latency, 0.99), p999: quantile(t.latency, 0.999), max: t.latency[measured - 1],
      serviceP99: quantile(t.service, 0.99), lagP50: quantile(t.lag, 0.5), lagP99: quantile(t.lag, 0.99),
      errors: t.errors, non200: t.non200, unanswered: t.pending, maxInFlight: t.maxInFlight,
    };
  });
  process.send?.(figures, () => process.exit(0));
}

interface HolderReport {
  answered: number;
  statuses: Record<string, number>;
  errors: number;
  firstError: string;
}

/** Child: `count` concurrent requests, each on its own connection, left open until this process is killed. */
async function holders(url: string, host: string, count: number): Promise<void> {
  setTimeout(() => process.exit(0), CHILD_LIMIT_MS).unref();
  process.on('disconnect', () => process.exit(0));
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const report: HolderReport = { answered: 0, statuses: {}, errors: 0, firstError: '' };
  process.on('message', () => process.send?.(report));
  for (let i = 0; i < count; i++) {
    const req = request({ host: target.hostname, port: target.port, path: `/held/${i}`, agent, headers: { host } }, (res) => {
      report.answered++;
      report.statuses[String(res.statusCode)] = (report.statuses[String(res.statusCode)] ?? 0) + 1;
      res.resume();
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      report.errors++;
      report.firstError ||= err.code ?? err.message;
    });
    req.end();
    // In bursts, so the activator's accept backlog is not overrun (a dropped SYN retries only after 1 s).
    if (i % 250 === 249) await sleep(20);
  }
  process.send?.({ sent: count });
}

// ---------------------------------------------------------------- the parent's helpers

function forkPinned(cpu: number | null, mode: string, args: string[]): ChildProcess {
  return spawnPinned(cpu, process.execPath, [self, mode, ...args], ['ignore', 'inherit', 'inherit', 'ipc']);
}

/** The child's next message, or an error when it exits (or `timeoutMs` passes) first. */
function message<T>(proc: ChildProcess, what: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      proc.off('message', onMessage);
      proc.off('exit', onExit);
    };
    const onMessage = (m: unknown): void => {
      cleanup();
      resolve(m as T);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanup();
      reject(new Error(`${what} exited (${String(code ?? signal)})`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    if (!alive(proc)) return onExit(proc.exitCode, proc.signalCode);
    proc.on('message', onMessage);
    proc.on('exit', onExit);
  });
}

interface Upstream {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const proc = forkPinned(LOAD_CPU, MODE.upstream, []);
  try {
    const { port } = await message<{ port: number }>(proc, 'upstream', 10_000);
    return { port, pid: proc.pid!, stop: () => stopProcess(proc, 'SIGTERM').then(() => undefined) };
  } catch (err) {
    await stopProcess(proc, 'SIGKILL');
    throw err;
  }
}

interface RunningActivatorProcess {
  proc: ChildProcess;
  pid: number;
  port: number;
  adminPort: number;
  /** Its warn/error log lines (the expected "no --stats-url" warning left out). */
  complaints: string[];
  /** SIGTERM (draining), then SIGKILL after the grace: how long the exit took and how it ended. */
  stop(graceMs?: number): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }>;
}

interface LogEntry {
  level?: number;
  msg?: string;
  port?: number;
  adminPort?: number;
}

/** `kpa activator --routes FILE` on free ports of 127.0.0.1, pinned to `cpu`; resolves on its "listening" log line. */
async function startActivatorProcess(routes: string, extra: string[], cpu: number | null): Promise<RunningActivatorProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'kpa-bench-activator-'));
  const file = join(dir, 'routes.yaml');
  writeFileSync(file, routes);
  const proc = spawnPinned(cpu, process.execPath, [mainJs, 'activator', '--routes', file, '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', ...extra],
    ['ignore', 'ignore', 'pipe'], { ...process.env, KPA_LOG_LEVEL: 'info' });
  const complaints: string[] = [];
  const tail: string[] = [];
  let buffered = '';
  let listening: ((ports: { port: number; adminPort: number }) => void) | null = null;
  const ready = new Promise<{ port: number; adminPort: number }>((resolve) => (listening = resolve));
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      tail.push(line);
      if (tail.length > 20) tail.shift();
      let entry: LogEntry | null = null;
      try {
        entry = JSON.parse(line) as LogEntry | null;
      } catch {
        complaints.push(line); // not pino: a crash's stack, a Node warning
        continue;
      }
      if (entry && typeof entry.port === 'number' && typeof entry.adminPort === 'number') listening?.({ port: entry.port, adminPort: entry.adminPort });
      if (entry && (entry.level ?? 0) >= 40 && !entry.msg?.startsWith('no --stats-url')) complaints.push(line);
    }
  });
  const stop = async (graceMs = 10_000): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }> => {
    const ms = await stopProcess(proc, 'SIGTERM', graceMs);
    rmSync(dir, { recursive: true, force: true });
    return { ms, code: proc.exitCode, signal: proc.signalCode };
  };
  try {
    const ports = await new Promise<{ port: number; adminPort: number }>((resolve, reject) => {
      const onExit = (): void => {
        clearTimeout(timer);
        reject(new Error(`kpa activator exited before listening:\n${tail.join('\n')}`));
      };
      const timer = setTimeout(() => {
        proc.off('exit', onExit);
        reject(new Error(`kpa activator did not log "listening" within 15 s:\n${tail.join('\n')}`));
      }, 15_000);
      proc.once('exit', onExit);
      void ready.then((p) => {
        clearTimeout(timer);
        proc.off('exit', onExit);
        resolve(p);
      });
    });
    return { proc, pid: proc.pid!, ...ports, complaints, stop };
  } catch (err) {
    await stop(1_000);
    throw err;
  }
}

async function metricsText(adminPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return res.text();
}

/** Sum of a metric's samples whose labels include `labels`; by the value of `by` when given. */
function samples(text: string, name: string, labels: Record<string, string> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const l: Record<string, string> = {};
    for (const [, k, v] of (m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)) l[k] = v;
    if (Object.entries(labels).some(([k, v]) => l[k] !== v)) continue;
    const key = Object.entries(l).filter(([k]) => !(k in labels) && k !== 'namespace' && k !== 'name').map(([k, v]) => `${k}=${v}`).join(',');
    out.set(key, (out.get(key) ?? 0) + Number(m[2]));
  }
  return out;
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

interface WrkRun {
  rps: number;
  requests: number;
  seconds: number;
  /** CPU-seconds of the proxy process over the run (NaN for direct). */
  cpu: number;
  socketErrors: number;
  non2xx: number;
  /** How busy the load CPU (the upstream and wrk) was over the run, 0-1. */
  loadCpuBusy: number;
}

/** `wrk -t1 -c50 -dNs` pinned to the load CPU; the proxy's CPU time read around it. */
async function wrk(url: string, seconds: number, proxyPid: number | null): Promise<WrkRun> {
  const cpu0 = proxyPid ? cpuSeconds(proxyPid) : NaN;
  const load0 = cpuTimes(LOAD_CPU);
  const r = await runBounded(LOAD_CPU, 'wrk', ['-t1', `-c${WRK_CONNECTIONS}`, `-d${seconds}s`, '-H', `Host: ${HOST}`, url], (seconds + 30) * 1000);
  const cpu = proxyPid ? cpuSeconds(proxyPid) - cpu0 : NaN;
  const load1 = cpuTimes(LOAD_CPU);
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m)\b/.exec(r.stdout);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (r.code !== 0 || !done || !rps) throw new Error(`wrk ${url} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  const unit = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[done[3] as 'us' | 'ms' | 's' | 'm'];
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
  return {
    rps: Number(rps[1]), requests: Number(done[1]), seconds: Number(done[2]) * unit, cpu,
    socketErrors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0),
    loadCpuBusy: (load1.busy - load0.busy) / (load1.total - load0.total),
  };
}

async function openLoopRun(urls: string[]): Promise<OpenLoopFigures[]> {
  const proc = forkPinned(LOAD_CPU, MODE.openLoop, [urls.join(','), HOST, String(RATE), String(OPEN_LOOP_SLICE_MS), String(OPEN_LOOP_MS)]);
  const seconds = (urls.length * (OPEN_LOOP_SLICE_MS + OPEN_LOOP_MS)) / 1000;
  try {
    return await message<OpenLoopFigures[]>(proc, 'open-loop generator', seconds * 1000 + OPEN_LOOP_GRACE_MS + 30_000);
  } finally {
    await stopProcess(proc, 'SIGKILL');
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function short(n: number): string {
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (Math.abs(n) >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2);
}
const spread = (xs: number[]): string => `${short(Math.min(...xs))}–${short(Math.max(...xs))}`;
const MB = 1e6;

// ---------------------------------------------------------------- the suite

interface Case {
  label: string;
  url: string;
  pid: number | null;
  runs: WrkRun[];
}

/** Cases 1 and 2: throughput on one core, then latency added at 1,000 req/s. */
async function requestPath(nginxPath: string | null, notes: string[]): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const up = await startUpstream();
    cleanups.push(up.stop);
    const activator = await startActivatorProcess(
      `- host: ${HOST}\n  namespace: bench\n  name: hello\n  endpoints: [http://127.0.0.1:${up.port}]\n`, [], PROXY_CPU);
    let activatorStopped = false;
    cleanups.push(async () => {
      if (activatorStopped) return;
      await activator.stop();
    });
    let nginx: RunningNginx | null = null;
    if (nginxPath) {
      nginx = await startNginx(nginxPath, up.port, PROXY_CPU);
      cleanups.push(nginx.stop);
    }
    const activatorRssIdle = memory(activator.pid).rss;
    const cases: Case[] = [
      { label: 'direct to the upstream', url: `http://127.0.0.1:${up.port}/`, pid: null, runs: [] },
      { label: 'via kpa activator', url: `http://127.0.0.1:${activator.port}/`, pid: activator.pid, runs: [] },
    ];
    if (nginx) cases.push({ label: 'via nginx', url: `http://127.0.0.1:${nginx.port}/`, pid: nginx.workerPid, runs: [] });

    // Warm-up (the activator's JIT, both pools' connections), not counted.
    for (const c of cases) await wrk(c.url, WARMUP_SECONDS, c.pid);
    const rssAfterRound: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of cases) c.runs.push(await wrk(c.url, WRK_SECONDS, c.pid));
      rssAfterRound.push(memory(activator.pid).rss);
    }
    const perCpu = (c: Case) => c.runs.map((r) => r.requests / r.cpu);
    const cpuShare = (c: Case) => c.runs.map((r) => (r.cpu / r.seconds) * 100);
    const tag = `wrk -t1 -c${WRK_CONNECTIONS} ${WRK_SECONDS} s, median of ${ROUNDS}`;
    for (const c of cases) {
      const rps = c.runs.map((r) => r.rps);
      const failures = c.runs.reduce((a, r) => a + r.socketErrors + r.non2xx, 0);
      const who = c.pid === null ? null : c.label === 'via nginx' ? 'nginx worker' : 'activator';
      results.push({
        name: `${c.label}${who ? ' (proxy on 1 core)' : ''}, ${tag} (${spread(rps)})`, value: median(rps), unit: 'req/s',
        goal: who === 'activator' ? 12_000 : undefined,
      });
      if (who) {
        results.push(
          { name: `  ${who} CPU during it (${spread(cpuShare(c))} %)`, value: median(cpuShare(c)), unit: '% of a core' },
          { name: `  requests per ${who} CPU-second (${spread(perCpu(c))})`, value: median(perCpu(c)), unit: 'req/s', goal: who === 'activator' ? 12_000 : undefined },
        );
      }
      const loadBusy = c.runs.map((r) => r.loadCpuBusy * 100);
      results.push({ name: `  CPU ${LOAD_CPU} (upstream + wrk) busy during it (${spread(loadBusy)} %)`, value: median(loadBusy), unit: '%' });
      results.push({ name: `  failed (socket errors + non-2xx, ${ROUNDS} runs)`, value: failures, unit: 'requests' });
    }
    const [, viaActivator, viaNginx] = cases;
    if (viaNginx) {
      const ratio = (f: (r: WrkRun) => number) => median(viaActivator.runs.map(f)) / median(viaNginx.runs.map(f));
      results.push(
        { name: 'activator / nginx, req/s (medians)', value: ratio((r) => r.rps), unit: '×' },
        { name: 'activator / nginx, req per proxy CPU-second (medians)', value: ratio((r) => r.requests / r.cpu), unit: '×' },
      );
    }
    results.push(
      { name: 'activator RSS idle, before the load', value: activatorRssIdle / MB, unit: 'MB' },
      { name: `  after each round of ${WRK_SECONDS} s (${rssAfterRound.map((r) => (r / MB).toFixed(0)).join(' / ')} MB)`, value: rssAfterRound[rssAfterRound.length - 1] / MB, unit: 'MB' },
    );
    if (nginx) results.push({ name: '  nginx worker RSS, for comparison', value: memory(nginx.workerPid).rss / MB, unit: 'MB' });

    // 2. Latency at 1,000 req/s, open loop.
    const figures = await openLoopRun(cases.map((c) => c.url));
    const latencies = cases.map((c, i) => ({ label: c.label, f: figures[i] }));
    const direct = latencies[0].f;
    const lt = `open loop ${RATE.toLocaleString('en-US')} req/s × ${OPEN_LOOP_MS / 1000} s (${OPEN_LOOP_SLICE_MS / 1000} s turns)`;
    for (const { label, f } of latencies) {
      results.push(
        { name: `${lt}, ${label}: p50`, value: f.p50, unit: 'ms' },
        { name: `  p99 (p99.9 ${short(f.p999)} ms, max ${short(f.max)} ms; p99 from the actual send ${short(f.serviceP99)} ms)`, value: f.p99, unit: 'ms' },
      );
      if (f !== direct) {
        const addedP50 = f.p50 - direct.p50;
        const addedP99 = f.p99 - direct.p99;
        const p99Goal = label === 'via kpa activator' && addedP99 > 0 ? 2 : undefined;
        results.push(
          { name: `  added over direct, p50`, value: addedP50, unit: 'ms' },
          { name: `  added over direct, p99${label === 'via kpa activator' && addedP99 <= 0 ? ' (goal < 2 ms: met)' : ''}`, value: addedP99, unit: 'ms', goal: p99Goal, lowerIsBetter: true },
        );
      }
      results.push({ name: `  failed (errors + non-200 + unanswered of ${f.measured.toLocaleString('en-US')}; at most ${f.maxInFlight} in flight)`, value: f.errors + f.non200 + f.unanswered, unit: 'requests' });
    }
    results.push({
      name: `  the generator's own send lag, p50 / p99 (direct run: ${short(direct.lagP50)} / ${short(direct.lagP99)} ms)`, value: direct.lagP99, unit: 'ms',
    });
    const lagP99 = Math.max(...latencies.map(({ f }) => f.lagP99));
    if (lagP99 > 2) {
      notes.push(`the open-loop generator itself sent up to ${short(lagP99)} ms late at p99 (a busy machine): the added-p99 rows cannot resolve a 2 ms goal in this run`);
    }
    const rssAfterLatency = memory(activator.pid).rss;
    results.push({ name: 'activator RSS after all of the above', value: rssAfterLatency / MB, unit: 'MB' });

    // What the activator itself counted.
    const text = await metricsText(activator.adminPort);
    const codes = samples(text, 'kpa_activator_requests_total', { namespace: 'bench', name: 'hello' });
    const upstreamErrors = samples(text, 'kpa_activator_upstream_errors_total', { namespace: 'bench', name: 'hello' });
    const non200 = [...codes].filter(([k]) => k !== 'code=200');
    notes.push(`activator /metrics after cases 1-2: requests_total ${[...codes].map(([k, v]) => `${k}:${v}`).join(' ')}; upstream errors ${sum(upstreamErrors)}${upstreamErrors.size ? ` (${[...upstreamErrors].map(([k, v]) => `${k}:${v}`).join(' ')})` : ''}`);
    if (non200.length) notes.push(`activator answered non-200: ${non200.map(([k, v]) => `${k}:${v}`).join(' ')}`);
    activatorStopped = true;
    const exit = await activator.stop();
    notes.push(`activator after SIGTERM: exited in ${exit.ms.toFixed(0)} ms (${exit.code ?? exit.signal})`);
    if (activator.complaints.length) notes.push(`activator warned/errored ${activator.complaints.length}×, first: ${activator.complaints.slice(0, 3).join(' | ')}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: Error) => notes.push(`cleanup failed: ${err.message}`));
  }
  return results;
}

/** Case 3: RSS while 10,000 requests are held for a target with nothing ready. */
async function holding(notes: string[]): Promise<BenchResult[]> {
  const closedPort = await freePort();
  const activator = await startActivatorProcess(
    `- host: ${HOLD_HOST}\n  namespace: bench\n  name: hold\n  endpoints: [http://127.0.0.1:${closedPort}]\n`,
    ['--max-held', '20000', '--hold-timeout', '600s'], PROXY_CPU);
  let client: ChildProcess | undefined;
  try {
    await sleep(1_000);
    const before = memory(activator.pid);
    const heldNow = async () => sum(samples(await metricsText(activator.adminPort), 'kpa_activator_requests_held', { namespace: 'bench', name: 'hold' }));
    const t0 = performance.now();
    client = forkPinned(LOAD_CPU, MODE.holders, [`http://127.0.0.1:${activator.port}/`, HOLD_HOST, String(HELD)]);
    await message<{ sent: number }>(client, 'holding client', HELD_WAIT_MS);
    let held = 0;
    const deadline = performance.now() + HELD_WAIT_MS;
    while (performance.now() < deadline && alive(activator.proc)) {
      held = await heldNow();
      if (held >= HELD) break;
      await sleep(200);
    }
    const secondsToHold = (performance.now() - t0) / 1000;
    if (!alive(activator.proc)) throw new Error(`the activator died while requests were being held (${activator.proc.exitCode ?? activator.proc.signalCode}): ${activator.complaints.slice(-3).join(' | ')}`);
    const during = memory(activator.pid);
    // Settle a little: RSS 2 s on, to see whether it still climbs with the requests only waiting.
    await sleep(2_000);
    const later = memory(activator.pid);
    client.send('report');
    const early = await message<HolderReport>(client, 'holding client', 10_000);
    if (early.answered || early.errors) {
      notes.push(`while holding, the client already had ${early.answered} answers (${JSON.stringify(early.statuses)}) and ${early.errors} errors (first: ${early.firstError})`);
    }
    // The clients go away: every held request must leave the queue.
    await stopProcess(client, 'SIGKILL');
    let left = held;
    const gone = performance.now() + 15_000;
    while (performance.now() < gone) {
      left = await heldNow();
      if (left === 0) break;
      await sleep(200);
    }
    const inFlight = sum(samples(await metricsText(activator.adminPort), 'kpa_activator_requests_in_flight', { namespace: 'bench', name: 'hold' }));
    const after = memory(activator.pid);
    const h = HELD.toLocaleString('en-US');
    return [
      { name: `holding ${h} requests at zero (nothing ready): activator RSS before the load`, value: before.rss / MB, unit: 'MB' },
      { name: `  RSS with ${held.toLocaleString('en-US')} held`, value: during.rss / MB, unit: 'MB', goal: 200, lowerIsBetter: true },
      { name: '  RSS 2 s later, still holding', value: later.rss / MB, unit: 'MB' },
      { name: '  VmHWM (peak RSS) by then', value: later.hwm / MB, unit: 'MB' },
      { name: '  RSS per held request', value: (during.rss - before.rss) / held / 1e3, unit: 'KB' },
      { name: `  seconds until all ${h} were held (${HELD_WAIT_MS / 1000} s at most)`, value: secondsToHold, unit: 's' },
      { name: '  still held / in flight 15 s after the clients went away', value: left + inFlight, unit: 'requests' },
      { name: '  RSS after the clients went away', value: after.rss / MB, unit: 'MB' },
    ];
  } finally {
    if (client) await stopProcess(client, 'SIGKILL');
    const exit = await activator.stop();
    notes.push(`holding activator after SIGTERM: exited in ${exit.ms.toFixed(0)} ms (${exit.code ?? exit.signal})`);
    if (activator.complaints.length) notes.push(`holding activator warned/errored ${activator.complaints.length}×, first: ${activator.complaints.slice(0, 3).join(' | ')}`);
  }
}

export async function run(): Promise<BenchResult[]> {
  const notes: string[] = [];
  if (!pinningAvailable) notes.push('taskset is missing: nothing is pinned, figures are not per core');
  const nginx = ensureNginx();
  if (!nginx.path) console.log(`request path: skipping the nginx rows: ${nginx.why}`);
  const results = await requestPath(nginx.path, notes);
  results.push(...(await holding(notes)));
  for (const n of notes) console.log(`request path note: ${n}`);
  return results;
}

if (process.argv[1] === self) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === MODE.upstream) await upstream();
  else if (mode === MODE.openLoop) await openLoop(args[0].split(','), args[1], Number(args[2]), Number(args[3]), Number(args[4]));
  else if (mode === MODE.holders) await holders(args[0], args[1], Number(args[2]));
  else if (mode === undefined) {
    const results = await run();
    console.log(`## request path (kpa activator)\n${table(results)}\n`);
  }
}
