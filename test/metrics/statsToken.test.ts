import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { StatClient, StatSender } from '../../src/metrics/statClient.js';
import { StatServer } from '../../src/metrics/statServer.js';
import { StatsTokenError, StatsTokenFile } from '../../src/metrics/statsToken.js';
import type { RevisionStat } from '../../src/metrics/wireStats.js';
import { stat } from '../helpers/engine.js';
import { tempDir } from '../helpers/tempDir.js';
import { until } from '../helpers/wait.js';

const key = { namespace: 'ns', name: 'rev' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const tokenFile = (text: string): string => {
  const file = join(tempDir('stats-token'), 'token');
  writeFileSync(file, text);
  return file;
};
/** Rewrites the file with a later modification time, as a Secret update does. */
const rewrite = (file: string, text: string, mtimeSeconds: number): void => {
  writeFileSync(file, text);
  utimesSync(file, mtimeSeconds, mtimeSeconds);
};

describe('StatsTokenFile', () => {
  const clock = new ManualClock(1000);

  it.each<[string, Record<string, string>, boolean]>([
    ['the token', bearer('s3cret'), true],
    ['the second token of the file', bearer('next-one'), true],
    ['"bearer" in any case, trailing space', { authorization: 'bearer s3cret  ' }, true],
    ['no header', {}, false],
    ['a wrong token', bearer('s3cre'), false],
    ['the token with a suffix', bearer('s3cretX'), false],
    ['Basic instead of Bearer', { authorization: 'Basic s3cret' }, false],
    ['an empty bearer', { authorization: 'Bearer ' }, false],
  ])('%s → %s', (_what, headers, accepted) => {
    const file = new StatsTokenFile(tokenFile('s3cret\nnext-one\n'), clock);
    expect(file.accepts({ headers })).toBe(accepted);
  });

  it.each([
    ['an empty file', '\n\n', 'holds no token'],
    ['a token with a space', 'two words\n', 'printable ASCII'],
  ])('refuses %s, naming the file', (_what, text, reason) => {
    const file = tokenFile(text);
    expect(() => new StatsTokenFile(file, clock)).toThrow(StatsTokenError);
    expect(() => new StatsTokenFile(file, clock)).toThrow(new RegExp(`--stats-token-file ${file}: .*${reason}`));
  });

  it('refuses a missing file, naming it', () => {
    expect(() => new StatsTokenFile('/nonexistent/token', clock)).toThrow('--stats-token-file /nonexistent/token: ENOENT');
  });

  it('takes a rotated Secret on the next look after recheckSeconds, and keeps the old tokens while the file is unusable', () => {
    const path = tokenFile('old\n');
    const file = new StatsTokenFile(path, clock, 10);
    rewrite(path, 'new\n', 2_000_000_000);
    expect(file.accepts({ headers: bearer('old') })).toBe(true); // not looked at again yet
    clock.advance(10);
    expect(file.accepts({ headers: bearer('new') })).toBe(true);
    expect(file.accepts({ headers: bearer('old') })).toBe(false);
    expect(file.header()).toEqual(bearer('new'));
    rewrite(path, '', 2_000_000_100); // a Secret caught mid-update
    clock.advance(10);
    expect(file.accepts({ headers: bearer('new') })).toBe(true);
  });
});

describe('the stats websocket with a token (over 127.0.0.1)', () => {
  let server: StatServer | undefined;
  const received: RevisionStat[] = [];
  afterEach(async () => {
    await server?.close();
    received.length = 0;
  });
  const start = async (tokens: StatsTokenFile | null) => {
    server = await StatServer.start({
      host: '127.0.0.1', port: 0, logger: silentLogger(), onStats: (s) => received.push(...s),
      authorize: tokens ? (req) => tokens.accepts(req) : undefined,
    });
    return `ws://127.0.0.1:${server.port}`;
  };

  it('refuses a connection without the token or with a wrong one with 401, and counts it', async () => {
    const url = await start(new StatsTokenFile(tokenFile('s3cret\n'), new ManualClock(0)));
    await expect(StatClient.connect(url)).rejects.toThrow('Unexpected server response: 401');
    await expect(StatClient.connect(url, bearer('guess'))).rejects.toThrow('Unexpected server response: 401');
    expect(server!.counters.unauthorized).toBe(2);
    expect(server!.counters.connectionsOpened).toBe(0);
    const client = await StatClient.connect(url, bearer('s3cret'));
    await client.send([{ key, stat: stat(3, 5, 'activator-1') }]);
    await until(() => received.length === 1);
    expect(server!.counters.connectionsOpened).toBe(1);
    await client.close();
  });

  it('without a token file accepts everyone, as Knative does', async () => {
    const url = await start(null);
    const client = await StatClient.connect(url);
    await client.send([{ key, stat: stat(1, 1, 'a') }]);
    await until(() => received.length === 1);
    expect(server!.counters.unauthorized).toBe(0);
    await client.close();
  });

  it("the activator's sender connects with the file's first token and delivers", async () => {
    const path = tokenFile('s3cret\n');
    const url = await start(new StatsTokenFile(path, new ManualClock(0)));
    const sending = new StatsTokenFile(path, new ManualClock(0));
    const sender = new StatSender({ url, headers: () => sending.header() });
    try {
      await until(() => sender.connected);
      expect(sender.send([{ key, stat: stat(2, 4, 'activator-1') }])).toBe(true);
      await until(() => received.length === 1);
    } finally {
      sender.close();
    }
  });
});

describe('kpa with --stats-token-file (the service)', () => {
  it('counts refused connections in kpa_stats_unauthorized_connections_total and takes stats from the token holder', async () => {
    const { startLiveAutoscaler } = await import('../../src/service/liveAutoscaler.js');
    const live = await startLiveAutoscaler({
      logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, tickIntervalMs: 3_600_000,
      statsToken: new StatsTokenFile(tokenFile('s3cret\n'), new ManualClock(0)),
    });
    try {
      const url = `ws://127.0.0.1:${live.statsPort}`;
      await expect(StatClient.connect(url)).rejects.toThrow('401');
      await expect(StatClient.connect(url, bearer('nope'))).rejects.toThrow('401');
      const client = await StatClient.connect(url, bearer('s3cret'));
      await client.close();
      const text = await (await fetch(`http://127.0.0.1:${live.httpPort}/metrics`)).text();
      expect(text).toMatch(/^kpa_stats_unauthorized_connections_total 2$/m);
    } finally {
      await live.close();
    }
  });
});
