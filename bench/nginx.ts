import { type ChildProcess, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, childrenOf, freePort, own, sleep, spawnPinned, stopProcess, waitForPort } from './procs.js';

/**
 * Debian's nginx as the reference reverse proxy: run unprivileged on
 * 127.0.0.1 from a temporary prefix (config, pid, logs and temp paths all
 * under it), one worker, a keep-alive upstream pool.
 */

function works(path: string): boolean {
  return spawnSync(path, ['-v'], { stdio: 'ignore' }).status === 0;
}

function findNginx(): string | null {
  for (const candidate of ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (works(candidate)) return candidate;
  }
  return null;
}

/**
 * nginx's path, installing Debian's nginx-light first when it is missing and
 * this runs as root; null (with the reason on `why`) when it can't be had.
 */
export function ensureNginx(): { path: string | null; why?: string } {
  const found = findNginx();
  if (found) return { path: found };
  if (process.getuid?.() !== 0) return { path: null, why: 'nginx is not installed and this is not root (apt-get install -y nginx-light)' };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // apt's output goes to stderr: stdout keeps the tables.
  for (const args of [['update'], ['install', '-y', 'nginx-light']]) {
    process.stderr.write(`bench: apt-get ${args.join(' ')}\n`);
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env, timeout: 300_000 });
    if (r.status !== 0) return { path: null, why: `apt-get ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})` };
  }
  const installed = findNginx();
  return installed ? { path: installed } : { path: null, why: 'nginx-light installed, but no working nginx binary found' };
}

export interface RunningNginx {
  port: number;
  masterPid: number;
  /** The single worker: the process that proxies, whose CPU time is measured. */
  workerPid: number;
  stop(): Promise<void>;
}

function userIds(name: string): { uid: number; gid: number } {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    if (line) {
      const [, , uid, gid] = line.split(':');
      return { uid: Number(uid), gid: Number(gid) };
    }
  } catch { /* fall through */ }
  return { uid: 65534, gid: 65534 };
}

export async function startNginx(nginx: string, upstreamPort: number, cpu: number | null): Promise<RunningNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'kpa-bench-nginx-'));
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const nobody = userIds('nobody');
  const setpriv = root && spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, `# kpa bench: nginx as a reverse proxy, one worker, keep-alive both ways
worker_processes 1;
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
${root && !setpriv ? 'user nobody nogroup;\n' : ''}events {
  worker_connections 4096;
}
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  # As the activator (Node's server, undici's pool): no cap on requests per keep-alive connection.
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`);
  // Root: the whole nginx drops to nobody (setpriv), so the prefix must be its own.
  if (root) chownSync(prefix, nobody.uid, nobody.gid);
  const nginxArgs = ['-p', prefix, '-c', conf, '-e', `${prefix}/error.log`];
  const [command, args] = setpriv
    ? ['setpriv', [`--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', nginx, ...nginxArgs]]
    : [nginx, nginxArgs];
  let stderr = '';
  const proc: ChildProcess = spawnPinned(cpu, command, args, ['ignore', 'ignore', 'pipe']);
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let workerPid = 0;
  const stop = async (): Promise<void> => {
    // SIGTERM: nginx's fast shutdown, the master stops its worker; a worker left behind is killed too.
    await stopProcess(proc, 'SIGTERM', 5_000);
    if (workerPid) {
      try {
        process.kill(workerPid, 'SIGKILL');
      } catch { /* gone, as it should be */ }
    }
    rmSync(prefix, { recursive: true, force: true });
  };
  try {
    await waitForPort('127.0.0.1', port, 10_000, () => !alive(proc));
    for (let i = 0; i < 100 && !workerPid; i++) {
      workerPid = childrenOf(proc.pid!)[0] ?? 0;
      if (!workerPid) await sleep(50);
    }
    if (!workerPid) throw new Error('nginx\'s worker process did not show up');
    own(workerPid);
  } catch (err) {
    const log = existsSync(`${prefix}/error.log`) ? readFileSync(`${prefix}/error.log`, 'utf8') : '';
    await stop();
    throw new Error(`nginx did not start: ${(err as Error).message}\n${stderr}${log}`);
  }
  return { port, masterPid: proc.pid!, workerPid, stop };
}
