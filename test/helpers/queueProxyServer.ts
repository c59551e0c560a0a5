import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Stat } from '../../src/metrics/stat.js';
import { encodeStat } from '../../src/metrics/wireStats.js';
import { statToPrometheusText } from '../../src/metrics/prometheusText.js';

/** hang: never answers; stall: sends headers and part of a body, then nothing; flood: streams an endless text body. */
export type PodBehaviour = 'protobuf' | 'text' | 'hang' | 'stall' | 'flood' | 'error500';

/** Test queue-proxies: one HTTP server on 127.0.0.1 serving `/<pod>/metrics` for many pods. */
export class QueueProxyServer {
  readonly pods = new Map<string, { stat: Stat; behaviour: PodBehaviour }>();
  readonly hits = new Map<string, number>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<QueueProxyServer> {
    let self: QueueProxyServer | undefined;
    const server = createServer((req, res) => {
      const name = (req.url ?? '').split('/')[1] ?? '';
      const pod = self!.pods.get(name);
      self!.hits.set(name, (self!.hits.get(name) ?? 0) + 1);
      if (!pod) return void res.writeHead(404).end();
      switch (pod.behaviour) {
        case 'hang': return;
        case 'stall': return void res.writeHead(200, { 'content-type': 'text/plain' }).write('# HELP queue_');
        case 'flood': {
          res.writeHead(200, { 'content-type': 'text/plain' });
          const line = Buffer.from('# '.padEnd(64 * 1024 - 1, 'x') + '\n');
          const pump = () => { while (!res.destroyed && res.write(line)); };
          res.on('drain', pump);
          return pump();
        }
        case 'error500': return void res.writeHead(500).end('boom');
        case 'text': return void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(statToPrometheusText(pod.stat));
        case 'protobuf': return void res.writeHead(200, { 'content-type': 'application/protobuf' }).end(encodeStat(pod.stat));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new QueueProxyServer(server);
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(pod: string): string {
    return `http://127.0.0.1:${this.port}/${pod}/metrics`;
  }

  set(pod: string, stat: Stat, behaviour: PodBehaviour = 'protobuf'): void {
    this.pods.set(pod, { stat, behaviour });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
