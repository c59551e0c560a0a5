import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { StatClient } from '../../src/metrics/statClient.js';
import { StatServer } from '../../src/metrics/statServer.js';
import type { StatRejectReason } from '../../src/metrics/stat.js';
import { encodeBinaryFrame, type RevisionStat } from '../../src/metrics/wireStats.js';
import { silentLogger } from '../../src/log.js';
import { stat } from '../helpers/engine.js';
import { until } from '../helpers/wait.js';

let server: StatServer;
let received: RevisionStat[];
const url = () => `ws://127.0.0.1:${server.port}`;
const key = { namespace: 'ns', name: 'rev' };
const rejected = () => Object.values(server.counters.rejected).reduce((a, b) => a + b, 0);


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
    { name: 'garbage bytes', frame: new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]), reason: 'malformed' },
    { name: 'truncated protobuf', frame: new Uint8Array([0x0a, 0x20, 0x0a, 0x02]), reason: 'malformed' },
    { name: 'not JSON text', frame: '{"messages":[', reason: 'malformed' },
    { name: 'JSON without messages', frame: '{"stat":{}}', reason: 'malformed' },
    { name: 'wrong field types', frame: '{"messages":[{"namespace":"ns","name":"rev","stat":{"averageConcurrentRequests":"lots"}}]}', reason: 'malformed' },
    { name: 'NaN value', frame: '{"messages":[{"namespace":"ns","name":"rev","stat":{"averageConcurrentRequests":"NaN"}}]}', reason: 'not-finite' },
    { name: 'negative value', frame: '{"messages":[{"namespace":"ns","name":"rev","stat":{"requestCount":-3}}]}', reason: 'negative' },
    { name: 'missing name', frame: '{"messages":[{"namespace":"ns","stat":{"requestCount":3}}]}', reason: 'missing-field' },
    // Issue 15: finite but huge values skewed a revision's windows for good.
    { name: 'concurrency 1e20', frame: encodeBinaryFrame([{ key, stat: stat(1e20) }]), reason: 'above-bound' },
    { name: 'requests 1e308', frame: encodeBinaryFrame([{ key, stat: stat(1, 1e308) }]), reason: 'above-bound' },
  ])('drops $name, keeps the connection and counts it as $reason', async ({ frame, reason }) => {
    const client = await StatClient.connect(url());
    await client.sendRaw(frame);
    await until(() => rejected() === 1);
    expect(server.counters.rejected[reason as StatRejectReason]).toBe(1);
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
    expect(server.counters.rejected.negative).toBe(1);
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

  it('refuses a frame of more messages than the cap whole, counted once, and keeps serving', async () => {
    // Issue 15: 524,287 empty messages in one frame under 1 MiB froze the service for seconds.
    const empties = new Uint8Array(2 * 524_287);
    for (let i = 0; i < empties.length; i += 2) empties[i] = 0x0a; // field 1, length 0
    const client = await StatClient.connect(url());
    await client.sendRaw(empties);
    await until(() => server.counters.rejected['too-many-messages'] === 1);
    expect(rejected()).toBe(1);
    await client.send([{ key, stat: stat(2) }]);
    await until(() => received.length === 1);
    await client.close();
  });

  it('counts each bad message of a frame under the cap without throwing, and keeps the good ones', async () => {
    const bad = Array.from({ length: 9_999 }, () => ({ key, stat: stat(-1) }));
    const client = await StatClient.connect(url());
    await client.sendRaw(encodeBinaryFrame([...bad, { key, stat: stat(3) }]));
    await until(() => received.length === 1);
    expect(server.counters.rejected.negative).toBe(9_999);
    expect(received[0].stat.averageConcurrentRequests).toBe(3);
    await client.close();
  });

  it('decodes a big frame in slices, letting timers run in between', async () => {
    await server.close();
    const batches: number[] = [];
    let timerRanDuringFrame = false;
    server = await StatServer.start({
      host: '127.0.0.1', port: 0, logger: silentLogger(), sliceMs: 0,
      onStats: (s) => {
        batches.push(s.length);
        received.push(...s);
      },
    });
    const frame = encodeBinaryFrame(Array.from({ length: 10_000 }, (_, i) => ({ key: { namespace: 'ns', name: `r${i}` }, stat: stat(1) })));
    const client = await StatClient.connect(url());
    await client.sendRaw(frame);
    await until(() => batches.length > 0);
    const timer = setTimeout(() => {
      timerRanDuringFrame = received.length < 10_000;
    }, 0);
    await until(() => received.length === 10_000);
    clearTimeout(timer);
    // A slice of 0 ms still decodes one group of messages per turn: many turns, not one.
    expect(batches.length).toBeGreaterThan(10);
    expect(timerRanDuringFrame).toBe(true);
    await client.close();
  });

  it('pauses the sockets when decoding falls behind, and loses nothing', async () => {
    await server.close();
    server = await StatServer.start({
      host: '127.0.0.1', port: 0, logger: silentLogger(), sliceMs: 0, maxQueuedBytes: 64 * 1024,
      onStats: (s) => received.push(...s),
    });
    const frame = encodeBinaryFrame(Array.from({ length: 1_000 }, () => ({ key, stat: stat(1) })));
    const client = await StatClient.connect(url());
    for (let i = 0; i < 50; i++) void client.sendRaw(frame);
    await until(() => received.length === 50_000, 20_000);
    expect(server.counters.pauses).toBeGreaterThan(0);
    expect(server.backlogBytes).toBe(0);
    await client.close();
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
