import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, send, startApp } from '../helpers/activatorHarness.js';
import { KPA_BIN, spawnKpa } from '../helpers/cliHarness.js';
import { tempDir } from '../helpers/tempDir.js';
import { until } from '../helpers/wait.js';

interface ActivatorProcess {
  child: ChildProcessWithoutNullStreams;
  port: number;
  adminPort: number;
  stderr(): string;
  /** Resident set size now and at its peak (kB), from /proc. */
  rss(): { now: number; peak: number };
  exited: Promise<number | null>;
}

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** No Kubernetes config at all: no KUBECONFIG, not in a pod, and a HOME without ~/.kube/config (a developer's real one would be used). */
const NO_CLUSTER: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '', HOME: tempDir('home') };

/** The built `kpa activator`, started as a user would, once it logs its ports. */
async function spawnActivator(args: string[], env: NodeJS.ProcessEnv = NO_CLUSTER): Promise<ActivatorProcess> {
  const child = spawn(process.execPath, [KPA_BIN, 'activator', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', ...args], { env, stdio: 'pipe' });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ports = await new Promise<[number, number]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kpa activator did not start: ${stderr}`)), 15_000);
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /"port":(\d+),"adminPort":(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve([Number(m[1]), Number(m[2])]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`kpa activator exited with ${code}: ${stderr}`));
    });
  });
  const status = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
  return { child, port: ports[0], adminPort: ports[1], stderr: () => stderr, rss: () => ({ now: status('VmRSS'), peak: status('VmHWM') }), exited };
}

/** Runs the CLI to its end (for usage errors). */
function runToEnd(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KPA_BIN, 'activator', ...args], { env: NO_CLUSTER });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

function routesFile(apps: { name: string; ports: number[]; cc?: number }[]): string {
  const file = join(tempDir('activator'), 'routes.yaml');
  writeFileSync(file, apps.map((a) => `- host: ${a.name}.example.com\n  namespace: default\n  name: ${a.name}\n  endpoints: [${a.ports.map((p) => `"http://127.0.0.1:${p}"`).join(', ')}]\n  containerConcurrency: ${a.cc ?? 0}\n`).join(''));
  return file;
}

async function app(handler?: Parameters<typeof startApp>[0]): Promise<App> {
  const a = await startApp(handler);
  cleanups.push(() => a.close());
  return a;
}

const MB = 1024 * 1024;

describe('kpa activator, the built CLI as a black box', () => {
  it('streams a 100 MB upload and a 100 MB download while its RSS grows by under 50 MB', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pod = await app((req, res) => {
      if (req.method === 'POST') {
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => res.end(String(n)));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const bytes = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('bytes'));
      let sent = 0;
      const pump = (): void => {
        while (sent < bytes) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const act = await spawnActivator(['--routes', routesFile([{ name: 'big', ports: [pod.port] }])]);
    await until(() => act.stderr().includes('kpa activator listening'));
    const upload = (bytes: number) => new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: act.port, method: 'POST', path: '/upload', headers: { host: 'big.example.com' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = (): void => {
        while (sent < bytes) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    const download = (bytes: number) => new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: act.port, path: `/download?bytes=${bytes}`, headers: { host: 'big.example.com' } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve(n));
      });
      req.on('error', reject);
      req.end();
    });
    // Warm up with 10 MB each way, so what is measured is the streaming, not code loading and a young heap growing.
    expect(Number(await upload(10 * MB))).toBe(10 * MB);
    expect(await download(10 * MB)).toBe(10 * MB);
    const before = act.rss().now;
    // The highest RSS while the 200 MB stream through (the lifetime peak would include the warm-up's).
    let highest = before;
    const sampler = setInterval(() => (highest = Math.max(highest, act.rss().now)), 20);
    expect(Number(await upload(100 * MB))).toBe(100 * MB);
    expect(await download(100 * MB)).toBe(100 * MB);
    clearInterval(sampler);
    const grewKb = Math.max(highest, act.rss().now) - before;
    expect(grewKb).toBeLessThan(50 * 1024);
  }, 60_000);

  it('SIGTERM: stops taking connections, finishes what is in flight, exits 0', async () => {
    const slow = await app((req, res) => {
      req.resume();
      setTimeout(() => res.end('finished'), 1500);
    });
    const act = await spawnActivator(['--routes', routesFile([{ name: 'slow', ports: [slow.port] }]), '--drain-timeout', '10s']);
    await until(() => act.stderr().includes('kpa activator listening'));
    const inFlight = send(act.port, 'slow.example.com');
    await until(() => slow.inFlight === 1);
    const started = Date.now();
    act.child.kill('SIGTERM');
    await until(() => act.stderr().includes('draining'));
    await expect(send(act.port, 'slow.example.com', '/', { agent: new (await import('node:http')).Agent({ keepAlive: false }) })).rejects.toThrow();
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('finished');
    expect(await act.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  }, 30_000);

  it('10,000 idle connections do not stop it serving others', async () => {
    const pod = await app();
    const act = await spawnActivator(['--routes', routesFile([{ name: 'hello', ports: [pod.port] }])]);
    await until(() => act.stderr().includes('kpa activator listening'));
    const idle: Socket[] = [];
    cleanups.push(() => { for (const s of idle) s.destroy(); });
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 500 }, () => new Promise<void>((resolve) => {
        const s = connect(act.port, '127.0.0.1', () => resolve());
        s.on('error', () => resolve());
        idle.push(s);
      })));
    }
    const started = Date.now();
    const reply = await send(act.port, 'hello.example.com', '/', { agent: new (await import('node:http')).Agent({ keepAlive: false }) });
    expect(reply.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);
    const health = await fetch(`http://127.0.0.1:${act.adminPort}/healthz`);
    expect(health.status).toBe(200);
  }, 60_000);

  it('with --stats-token-file on both sides its stats reach kpa; an activator with another token is refused with 401 and says so', async () => {
    const dir = tempDir('stats-token');
    const [good, wrong, targets] = [join(dir, 'good'), join(dir, 'wrong'), join(dir, 'targets.yaml')];
    writeFileSync(good, 's3cret\n');
    writeFileSync(wrong, 'guess\n');
    writeFileSync(targets, 'revisions:\n  - namespace: default\n    name: hello\n    metricsSource: activator\n    pods: []\n');
    const kpa = await spawnKpa(['run', '--targets', targets, '--http-port', '0', '--stats-port', '0', '--host', '127.0.0.1', '--stats-token-file', good], NO_CLUSTER);
    cleanups.push(() => kpa.kill());
    const statsUrl = `ws://127.0.0.1:${/"statsPort":(\d+)/.exec(kpa.stderr())![1]}/`;
    const metrics = async () => (await fetch(`http://127.0.0.1:${kpa.port}/metrics`)).text();
    const pod = await app();
    const routes = routesFile([{ name: 'hello', ports: [pod.port] }]);
    const holder = await spawnActivator(['--routes', routes, '--stats-url', statsUrl, '--stats-token-file', good, '--pod-name', 'holder']);
    const stranger = await spawnActivator(['--routes', routes, '--stats-url', statsUrl, '--stats-token-file', wrong, '--pod-name', 'stranger']);
    expect((await send(holder.port, 'hello.example.com')).status).toBe(200);
    await until(async () => /^kpa_stats_received_total\{source="activator"\} [1-9]/m.test(await metrics()), 10_000);
    await until(async () => /^kpa_stats_unauthorized_connections_total [1-9]/m.test(await metrics()), 10_000);
    await until(() => /refused this activator's stats token \(401\)/.test(stranger.stderr()), 10_000);
    // Not /401/ alone: a log line's random port can hold those digits ("port":44013).
    expect(holder.stderr()).not.toMatch(/refused|\(401\)| 401"/);
  }, 60_000);

  it.each([
    [['--stats-token-file', '/no/such/token', '--stats-url', 'ws://127.0.0.1:1/'], /--stats-token-file \/no\/such\/token: ENOENT/],
    [['--stats-token-file', '/no/such/token'], /--stats-token-file is sent to kpa's stat server: give --stats-url too/],
  ])('with --routes, %j is an error naming the token file, exit 2', async (args, message) => {
    const { code, stderr } = await runToEnd(['--routes', routesFile([{ name: 'hello', ports: [1] }]), ...args]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it.each([
    [['--routes', '/no/such/file.yaml'], /cannot read \/no\/such\/file\.yaml/],
    [['--stats-url', 'http://kpa:8080/'], /--stats-url must be a ws:\/\/ or wss:\/\/ URL/],
    [['--hold-timeout', 'soon'], /--hold-timeout must be a positive duration/],
    [[], /give --routes FILE, or run in a cluster/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('%j is a usage error with exit 2', async (args, message) => {
    const { code, stderr } = await runToEnd(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it.each([
    [['--peers', '2'], /--peers N and --peer-index I go together/],
    [['--peer-index', '0'], /--peers N and --peer-index I go together/],
    [['--peers', '0', '--peer-index', '0'], /--peers must be a whole number ≥ 1, got "0"/],
    [['--peers', 'two', '--peer-index', '0'], /--peers must be a whole number ≥ 1, got "two"/],
    [['--peers', '2', '--peer-index=-1'], /--peer-index must be a whole number ≥ 0, got "-1"/],
    [['--peers', '2', '--peer-index', '2'], /--peer-index must be below --peers \(it counts from 0\), got index 2 of 2/],
    [['--peers-service', 'kpa-activator'], /--peers-service applies to the Kubernetes mode, not to --routes/],
  ])('with --routes, %j is a usage error with exit 2', async (args, message) => {
    const { code, stderr } = await runToEnd(['--routes', routesFile([{ name: 'hello', ports: [1] }]), ...args]);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it.each([
    [['--peers', '2', '--peer-index', '0'], /--peers applies to --routes: in a cluster the activator counts its peers/],
    [['--peers-service', 'Not_A_Service'], /--peers-service must be a Service name/],
  ])('without --routes, %j is a usage error with exit 2', async (args, message) => {
    const { code, stderr } = await runToEnd(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it('--peers 2 --peer-index 1: logs its place, shows it on /metrics, and uses its half of a limited target\'s endpoints', async () => {
    const pods = await Promise.all([0, 1, 2, 3].map(() => app()));
    const act = await spawnActivator(['--routes', routesFile([{ name: 'shop', ports: pods.map((p) => p.port), cc: 1 }]), '--peers', '2', '--peer-index', '1']);
    await until(() => act.stderr().includes('kpa activator listening'));
    expect(act.stderr()).toMatch(/"peerIndex":1,"peers":2[^\n]*this activator is peer 1 of 2/);
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => send(act.port, 'shop.example.com', `/${i}`)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const sorted = [...pods].sort((a, b) => (`127.0.0.1:${a.port}` < `127.0.0.1:${b.port}` ? -1 : 1));
    expect(sorted.map((p) => p.seen.length > 0)).toEqual([false, false, true, true]);
    const metrics = await (await fetch(`http://127.0.0.1:${act.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/^kpa_activator_peers 2$/m);
    expect(metrics).toMatch(/^kpa_activator_peer_index 1$/m);
    expect(metrics).toMatch(/^kpa_activator_endpoints_assigned\{namespace="default",name="shop"\} 2$/m);
  }, 30_000);

  it('a routes file mistake names the field and exits 2', async () => {
    const file = join(tempDir('activator'), 'bad.yaml');
    writeFileSync(file, '- {host: a.example.com, namespace: default, name: a, endpoints: ["https://10.0.0.1:443"]}\n');
    const { code, stderr } = await runToEnd(['--routes', file]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}: [0].endpoints[0]: must be an http:// URL`);
  });
});
