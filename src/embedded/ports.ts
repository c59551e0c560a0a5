import { createServer, type Server } from 'node:net';

/**
 * `count` distinct free ports on `host`: all bound at once on port 0 (so
 * the system hands out different ones), read, and released. They are free
 * when this returns, not guaranteed to stay so: a pod that finds its port
 * taken waits and tries again (see DemoPod).
 */
export async function reservePorts(count: number, host: string): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
    }
    return servers.map((s) => {
      const address = s.address();
      return typeof address === 'object' && address ? address.port : 0;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
  }
}
