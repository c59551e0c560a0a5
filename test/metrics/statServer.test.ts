import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { StatClient } from '../../src/metrics/statClient.js';
import { StatServer } from '../../src/metrics/statServer.js';
import type { RevisionStat } from '../../src/metrics/wireStats.js';
import { silentLogger } from '../../src/log.js';
import { stat } from '../helpers/engine.js';
import { until } from '../helpers/wait.js';

let server: StatServer;
let received: RevisionStat[];
const url = () => `ws://127.0.0.1:${server.port}`;
const key = { namespace: 'ns', name: 'rev' };


beforeEach(async () => {
  received = [];
  server = await StatServer.start({ host: '127.0.0.1', port: 0, logger: silentLogger(), onStats: (s) => received.push(...s) });
});
afterEach(async () => {
  await server.close();
});

describe('StatServer', () => {
  it('receives protobuf and JSON frames', async () => {
    const client = await StatClient.connect(url());
    await client.send([{ key, stat: stat(3, 5, 'activator-1') }]);
    await client.send([{ key, stat: stat(4, 6, 'activator-2') }], 'json');
    await until(() => received.length === 2);
    expect(received[0]).toEqual({ key, stat: stat(3, 5, 'activator-1') });
    expect(received[1].stat).toMatchObject({ podName: 'activator-2', averageConcurrentRequests: 4, requestCount: 6 });
    await client.close();
  });

  it('accepts the documented JSON text frame', async () => {
    const client = await StatClient.connect(url());
    await client.sendRaw('{"messages":[{"namespace":"ns","name":"rev","stat":{"podName":"a","averageConcurrentRequests":2.5,"requestCount":7}}]}');
    await until(() => received.length === 1);
    expect(received[0].stat).toMatchObject({ averageConcurrentRequests: 2.5, requestCount: 7, proxiedRequestCount: 0 });
    await client.close();
  });

  it.each([
    { name: 'garbage bytes', frame: new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]) },
    { name: 'truncated protobuf', frame: new Uint8Array([0x0a, 0x20, 0x0a, 0x02]) },
    { name: 'not JSON text', frame: '{"messages":[' },
    { name: 'JSON without messages', frame: '{"stat":{}}' },
    { name: 'wrong field types', frame: '{"messages":[{"namespace":"ns","name":"rev","stat":{"averageConcurrentRequests":"lots"}}]}' },
    { name: 'NaN value', frame: '{"messages":[{"namespace":"ns","name":"rev","stat":{"averageConcurrentRequests":"NaN"}}]}' },
    { name: 'negative value', frame: '{"messages":[{"namespace":"ns","name":"rev","stat":{"requestCount":-3}}]}' },
    { name: 'missing name', frame: '{"messages":[{"namespace":"ns","stat":{"requestCount":3}}]}' },
  ])('drops $name, keeps the connection and counts a decode error', async ({ frame }) => {
    const client = await StatClient.connect(url());
    await client.sendRaw(frame);
    await until(() => server.counters.decodeErrors === 1);
    await client.send([{ key, stat: stat(1) }]);
    await until(() => received.length === 1);
    expect(client.open).toBe(true);
    await client.close();
  });

  it('keeps the valid messages of a frame with one bad message', async () => {
    const client = await StatClient.connect(url());
    await client.sendRaw('{"messages":[{"namespace":"ns","name":"rev","stat":{"requestCount":-1}},{"namespace":"ns","name":"ok","stat":{"requestCount":2}}]}');
    await until(() => received.length === 1);
    expect(received[0].key.name).toBe('ok');
    expect(server.counters.decodeErrors).toBe(1);
    await client.close();
  });

  it('closes a connection sending a 2 MiB frame with 1009; others keep working', async () => {
    const bystander = await StatClient.connect(url());
    const offender = await StatClient.connect(url());
    const code = offender.closed();
    await offender.sendRaw(new Uint8Array(2 * 1024 * 1024)).catch(() => undefined);
    expect(await code).toBe(1009);
    await bystander.send([{ key, stat: stat(1) }]);
    await until(() => received.length === 1);
    await bystander.close();
  });

  it('survives 1,000 connections opening and closing', async () => {
    for (let batch = 0; batch < 10; batch++) {
      const clients = await Promise.all(Array.from({ length: 100 }, () => StatClient.connect(url())));
      await Promise.all(clients.map((c) => c.close()));
    }
    await until(() => server.counters.connectionsOpen === 0);
    expect(server.counters.connectionsOpened).toBe(1000);
    const client = await StatClient.connect(url());
    await client.send([{ key, stat: stat(1) }]);
    await until(() => received.length === 1);
    await client.close();
  });

  it('answers kubelet probes with 200', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: server.port, path: '/', headers: { 'user-agent': 'kube-probe/1.30' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject).end();
    });
    expect(status).toBe(200);
  });

  it('closes clients with 1012 on shutdown and frees the port', async () => {
    const client = await StatClient.connect(url());
    const code = client.closed();
    const port = server.port;
    await server.close();
    expect(await code).toBe(1012);
    await expect(StatClient.connect(`ws://127.0.0.1:${port}`)).rejects.toThrow();
    server = await StatServer.start({ host: '127.0.0.1', port: 0, logger: silentLogger(), onStats: () => undefined });
  });
});
