import { describe, expect, it } from 'vitest';
import { spawnKpa } from '../helpers/cliHarness.js';
import { send } from '../helpers/activatorHarness.js';
import { until } from '../helpers/wait.js';
import { tempDir } from '../helpers/tempDir.js';

interface Revision {
  name: string;
  metricsSource: string;
  readyPods: number;
  latest: { valid: boolean; panic?: boolean } | null;
  scale: { state: string; wantReplicas: number } | null;
}

// The front door: `npm start` runs `kpa run`, which with no cluster starts the embedded demo.
describe('kpa run with the embedded demo (what npm start runs)', () => {
  it('panics the flash crowd up, takes the idle revision to zero and back, and stops on SIGINT', async () => {
    const kpa = await spawnKpa(['run', '--http-port', '0', '--stats-port', '0'], { ...process.env, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '', HOME: tempDir('home') });
    try {
      const base = `http://127.0.0.1:${kpa.port}`;
      const revisions = async (): Promise<Map<string, Revision>> => {
        const body = (await (await fetch(`${base}/api/revisions`)).json()) as { revisions: Revision[] };
        return new Map(body.revisions.map((r) => [r.name, r]));
      };
      let state = await revisions();
      expect([...state.keys()].sort()).toEqual(['diurnal', 'flash-crowd', 'idle-burst']);
      // Two revisions behind kpa activator (their load is its report), one scraped as a Knative revision is.
      expect([...state.values()].map((r) => [r.name, r.metricsSource]).sort()).toEqual([['diurnal', 'queue-proxy'], ['flash-crowd', 'activator'], ['idle-burst', 'activator']]);
      const banner = await until(() => /kpa activator +http:\/\/127\.0\.0\.1:(\d+)\/ \(its \/metrics: http:\/\/127\.0\.0\.1:(\d+)\/metrics\)/.test(kpa.stdout()), 5000).then(() => kpa.stdout());
      const [, proxyPort, adminPort] = /kpa activator +http:\/\/127\.0\.0\.1:(\d+)\/ \(its \/metrics: http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)!;
      // A user's own request goes through the real activator to a real demo pod.
      // (fetch() may not set Host: a plain node:http request, as curl -H 'Host: …' would.)
      const mine = await send(Number(proxyPort), 'flash-crowd.demo.localhost');
      expect(mine.status).toBe(200);
      expect(mine.body).toMatch(/^hello from flash-crowd-\d+/);
      const poll = async (cond: (s: Map<string, Revision>) => boolean, ms: number): Promise<void> => {
        const end = Date.now() + ms;
        for (;;) {
          state = await revisions();
          if (cond(state)) return;
          if (Date.now() > end) throw new Error(`not reached: ${JSON.stringify([...state.values()].map((r) => [r.name, r.readyPods, r.scale]))}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      };
      // The flash crowd (from t = 10 s) panics and scales up.
      await poll((s) => s.get('flash-crowd')!.latest?.panic === true && s.get('flash-crowd')!.readyPods > 3, 40_000);
      // The idle revision goes to zero after its traffic stops (t = 10 s) …
      await poll((s) => s.get('idle-burst')!.readyPods === 0 && s.get('idle-burst')!.scale?.state === 'inactive', 40_000);
      // … and comes back when traffic returns (t = 35 s), through the activator.
      await poll((s) => s.get('idle-burst')!.readyPods > 0, 30_000);
      // The "why did it scale" view keeps the scaler's state with each decision: the way down and back is in it.
      const idle = (await (await fetch(`${base}/api/revisions/default/idle-burst`)).json()) as { history: { scale: { state: string; wantReplicas: number } | null }[] };
      const states = idle.history.map((d) => d.scale?.state);
      expect(states).toContain('inactive');
      const back = states.lastIndexOf('activating');
      expect(back).toBeGreaterThan(states.indexOf('inactive'));
      expect(idle.history[back].scale!.wantReplicas).toBeGreaterThan(0);
      // The activator answered the demo's real requests for both revisions it fronts.
      const activatorMetrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      for (const name of ['flash-crowd', 'idle-burst']) {
        expect(activatorMetrics).toMatch(new RegExp(`kpa_activator_requests_total\\{namespace="default",name="${name}",code="200"\\} [1-9]`));
      }
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/kpa_stats_received_total\{source="activator"\} [1-9]/);
      expect(metrics).toMatch(/kpa_stats_received_total\{source="scraper"\} [1-9]/);
      const { code, ms } = await kpa.stop('SIGINT');
      expect(code).toBe(0);
      expect(ms).toBeLessThan(5000);
      await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    } finally {
      kpa.kill();
    }
  }, 120_000);

  it('stops on SIGTERM within 5 s, also with a dashboard open', async () => {
    const kpa = await spawnKpa(['run', '--embedded', '--http-port', '0', '--stats-port', '0']);
    try {
      await until(() => kpa.stderr().includes('"desiredPods"'), 10_000);
      // An open dashboard holds an event stream that never ends by itself.
      const stream = await fetch(`http://127.0.0.1:${kpa.port}/api/stream`);
      const reader = stream.body!.getReader();
      expect((await reader.read()).done).toBe(false);
      const { code, ms } = await kpa.stop('SIGTERM');
      expect((await reader.read()).done).toBe(true); // the stream was ended, not cut
      expect(code).toBe(0);
      expect(ms).toBeLessThan(5000);
    } finally {
      kpa.kill();
    }
  });
});
