import { createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingOutput } from '../../src/cli/recordingOutput.js';
import { FileArgumentError } from '../../src/cli/usage.js';
import { runCli, spawnKpa } from '../helpers/cliHarness.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { tempDir } from '../helpers/tempDir.js';
import { until } from '../helpers/wait.js';

const KEY = { namespace: 'ns', name: 'r' };
const EARLIER = '{"type":"revision","t":100,"namespace":"ns","name":"r","config":{"stable-window":"6s"},"ready":1}\n';

/** A disk that never takes a byte: its writes never complete. */
class DeadDisk extends Writable {
  override _write(_chunk: Buffer, _encoding: string, _done: () => void): void {}
}

function fileWith(content: string | null): string {
  const file = join(tempDir('recording'), 'rec.jsonl');
  if (content !== null) writeFileSync(file, content);
  return file;
}

const refusal = (file: string) => `--record ${file}: the file exists; give --record-append to add to it or --force to overwrite it`;

describe('RecordingOutput: never truncates, never holds up a stop', () => {
  it('refuses a file that holds something, leaving it as it was', () => {
    const file = fileWith(EARLIER);
    expect(() => RecordingOutput.open(file, 'refuse')).toThrow(new FileArgumentError('--record', file, 'the file exists; give --record-append to add to it or --force to overwrite it'));
    expect(readFileSync(file, 'utf8')).toBe(EARLIER);
  });

  it.each([
    { name: 'a new file', content: null },
    { name: 'an empty file (nothing to lose)', content: '' },
  ])('records into $name', async ({ content }) => {
    const file = fileWith(content);
    const output = RecordingOutput.open(file, 'refuse');
    output.recorder.tick(100, KEY);
    await output.close();
    expect(readFileSync(file, 'utf8')).toBe('{"type":"tick","t":100,"namespace":"ns","name":"r"}\n');
  });

  it('--force overwrites', async () => {
    const file = fileWith(EARLIER);
    const output = RecordingOutput.open(file, 'overwrite');
    output.recorder.tick(100, KEY);
    await output.close();
    expect(readFileSync(file, 'utf8')).toBe('{"type":"tick","t":100,"namespace":"ns","name":"r"}\n');
  });

  it('--record-append keeps what was there and marks the restart, after a newline when the last line was cut short', async () => {
    for (const earlier of [EARLIER, EARLIER.slice(0, -10)]) {
      const file = fileWith(earlier);
      const output = RecordingOutput.open(file, 'append');
      output.recorder.tick(90, KEY);
      await output.close();
      const lines = readFileSync(file, 'utf8').split('\n');
      expect(lines.slice(0, 1).join('')).toBe(earlier.trimEnd());
      expect(lines.slice(1)).toEqual(['{"type":"restart","t":90}', '{"type":"tick","t":90,"namespace":"ns","name":"r"}', '']);
    }
  });

  it('--record-append to a file that is not there starts a plain recording', async () => {
    const file = fileWith(null);
    const output = RecordingOutput.open(file, 'append');
    output.recorder.tick(90, KEY);
    await output.close();
    expect(readFileSync(file, 'utf8')).toBe('{"type":"tick","t":90,"namespace":"ns","name":"r"}\n');
  });

  it('gives up on a disk that takes nothing after the flush timeout, saying how many bytes were lost', async () => {
    const disk = new DeadDisk();
    const output = new RecordingOutput('/x/rec.jsonl', disk, false);
    output.recorder.revision(100, KEY, {}, 1);
    // About 6 MB of stats: past the default 4 MiB bound, so the close also writes a dropped line.
    for (let i = 0; i < 40_000; i++) output.recorder.stat(100, KEY, stat(i));
    expect(output.recorder.droppedEvents).toBeGreaterThan(0);
    const lost = disk.writableLength + `{"type":"dropped","t":100,"count":${output.recorder.droppedEvents}}\n`.length;
    // Settles at the default 2 s timeout; the test's own timeout is what would catch a hang.
    await expect(output.close()).rejects.toThrow(new FileArgumentError('--record', '/x/rec.jsonl',
      `the disk had not taken the last ${lost} bytes of the recording 2 s after stopping; they are lost and the recording ends early`));
    expect(disk.destroyed).toBe(true);
  });

  it('ignores events that come after close (a stopping service\'s last stat is not a write after end)', async () => {
    const file = fileWith(null);
    const output = RecordingOutput.open(file, 'refuse');
    output.recorder.tick(100, KEY);
    const closed = output.close();
    output.recorder.tick(101, KEY);
    await closed;
    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(2);
  });

  it('a recording written while the disk is behind replays with a warning at the dropped line, exit 0', async () => {
    const file = fileWith(null);
    const stream = createWriteStream(file);
    const output = new RecordingOutput(file, stream, false, { maxBufferedBytes: 1024 });
    output.recorder.revision(100, KEY, { config: { 'stable-window': '6s' } }, 1);
    // One synchronous burst: the file stream cannot write any of it until the loop yields.
    for (let i = 0; i < 5_000; i++) output.recorder.stat(100 + i / 1000, KEY, stat(20));
    await until(() => stream.writableLength === 0);
    output.recorder.tick(105, KEY);
    await output.close();
    const dropped = output.recorder.droppedEvents;
    expect(dropped).toBeGreaterThan(4_900);
    expect(statSync(file).size).toBeLessThan(4096);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const markerLine = lines.findIndex((l) => l.includes('"dropped"')) + 1;
    const { code, stdout, stderr } = await runCli(['replay', file]);
    expect(stderr).toBe(`kpa replay: ${file}:${markerLine}: the recorder dropped ${dropped} events here (the disk could not keep up); decisions after this point may differ from the live ones\n`);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ t: 105, valid: true }); // the replay went on past the marker
  });
});

describe('kpa run --record: existing files', () => {
  const run = (args: string[]) => runCli(['run', '--targets', 'simulations/targets-example.yaml', '--http-port', '0', '--stats-port', '0', ...args]);

  it('refuses an existing recording with exit 2 before anything starts, and leaves it whole', async () => {
    const file = fileWith(EARLIER);
    expect(await run(['--record', file])).toEqual({ code: 2, stdout: '', stderr: `kpa run: ${refusal(file)}\n` });
    expect(readFileSync(file, 'utf8')).toBe(EARLIER);
  });

  it.each([
    { args: ['--record-append', '--force'], error: '--record-append and --force are alternatives: give one' },
    { args: ['--force'], error: '--force needs --record FILE (it says what to do with an existing recording)' },
    { args: ['--record-append'], error: '--record-append needs --record FILE (it says what to do with an existing recording)' },
  ])('$args without the right companions is a usage error', async ({ args, error }) => {
    const file = fileWith(EARLIER);
    const withRecord = args.length === 2 ? ['--record', file, ...args] : args;
    const result = await run(withRecord);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^kpa run: ${error.replace(/[()]/g, '\\$&')}\n\nkpa run `));
    expect(readFileSync(file, 'utf8')).toBe(EARLIER);
  });
});

describe('a recording appended to replays each run as that run decided', () => {
  const REV = (t: number) => `{"type":"revision","t":${t},"namespace":"ns","name":"r","config":{"stable-window":"6s"},"ready":1}`;
  const STAT = (t: number, c: number) => `{"type":"stat","t":${t},"namespace":"ns","name":"r","stat":{"podName":"p","averageConcurrentRequests":${c}}}`;
  const TICK = (t: number) => `{"type":"tick","t":${t},"namespace":"ns","name":"r"}`;
  /** A first run at 500 concurrent requests. */
  const busyRun = (t: number) => [REV(t), STAT(t + 0.5, 500), STAT(t + 1.5, 500), TICK(t + 2)];
  /** The restarted run: the revision is sent again, with 1 ready pod, and sees 10 requests. */
  const restartedRun = (t: number) => [REV(t), STAT(t + 0.5, 10), TICK(t + 1)];
  const replay = async (lines: string[]) => runCli(['replay', '-'], `${lines.join('\n')}\n`);

  it('restart forgets the first run\'s revisions: the re-sent revision line starts afresh, as the restarted service did', async () => {
    const alone = await replay(restartedRun(1004));
    expect(JSON.parse(alone.stdout)).toMatchObject({ valid: true, desiredPodCount: 1, panic: false });
    const appended = await replay([...busyRun(1000), '{"type":"restart","t":1004}', ...restartedRun(1004)]);
    expect(appended).toMatchObject({ code: 0, stderr: '' });
    expect(appended.stdout.trim().split('\n').at(-1)).toBe(alone.stdout.trim());
    // Without the marker the re-sent revision line is an update of the first run's autoscaler, whose window still
    // holds its 500s: 3 pods, not the 1 the restarted service decided.
    const unmarked = await replay([...busyRun(1000), ...restartedRun(1004)]);
    expect(JSON.parse(unmarked.stdout.trim().split('\n').at(-1)!)).toMatchObject({ desiredPodCount: 3, stableValue: 202 });
  });

  it('the restarted run\'s clock may be behind the first run\'s: t starts over at the restart', async () => {
    const appended = await replay([...busyRun(5000), '{"type":"restart","t":1004}', ...restartedRun(1004)]);
    expect(appended).toMatchObject({ code: 0, stderr: '' });
    expect(appended.stdout.trim().split('\n')).toHaveLength(2);
    // Within a run, t going backwards is still a mistake.
    const backwards = await replay([...busyRun(5000), '{"type":"restart","t":1004}', ...restartedRun(1004), TICK(1003)]);
    expect(backwards).toMatchObject({ code: 2, stderr: 'kpa replay: <stdin>:9: t=1003 goes backwards (the previous event was at t=1005)\n' });
  });
});

describe('kpa run --record-append: the built binary', () => {
  let qp: QueueProxyServer;
  beforeAll(async () => {
    qp = await QueueProxyServer.start();
  });
  afterAll(async () => {
    await qp.close();
  });

  it('adds a run to an earlier recording whose clock was ahead, and the whole file replays with the live decisions', async () => {
    qp.set('pod-a', stat(30, 60, 'pod-a'));
    const dir = tempDir('append');
    const targets = join(dir, 'targets.yaml');
    writeFileSync(targets, [
      'config: {stable-window: 6s}',
      'revisions:',
      '  - {namespace: default, name: hello, containerConcurrency: 10,',
      `     pods: [{name: pod-a, url: "${qp.url('pod-a')}"}]}`,
    ].join('\n'));
    // An earlier run of the same revision, a day ahead of this machine's clock, that decided 50 pods.
    const ahead = Math.floor(Date.now() / 1000) + 86_400;
    const earlier = [
      `{"type":"revision","t":${ahead},"namespace":"default","name":"hello","config":{"stable-window":"6s"},"containerConcurrency":10,"ready":1}`,
      `{"type":"stat","t":${ahead + 0.5},"namespace":"default","name":"hello","stat":{"podName":"pod-a","averageConcurrentRequests":350}}`,
      `{"type":"tick","t":${ahead + 1},"namespace":"default","name":"hello"}`,
    ];
    const record = join(dir, 'rec.jsonl');
    writeFileSync(record, `${earlier.join('\n')}\n`);
    const kpa = await spawnKpa(['run', '--targets', targets, '--record', record, '--record-append', '--host', '127.0.0.1', '--http-port', '0', '--stats-port', '0']);
    try {
      let desired = -1;
      for (let i = 0; i < 100 && desired < 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        desired = ((await (await fetch(`http://127.0.0.1:${kpa.port}/api/revisions/default/hello`)).json()) as { desiredScale: number }).desiredScale;
      }
      expect(desired).toBe(5); // 30 concurrent ÷ (10 × 70 %): the earlier run's panic is not this run's
      expect((await kpa.stop('SIGINT')).code).toBe(0);
    } finally {
      kpa.kill();
    }
    const lines = readFileSync(record, 'utf8').trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual(earlier);
    expect(JSON.parse(lines[3])).toMatchObject({ type: 'restart' });
    const whole = await runCli(['replay', record]);
    expect(whole).toMatchObject({ code: 0, stderr: '' });
    const thisRun = await runCli(['replay', '-'], `${lines.slice(4).join('\n')}\n`);
    const decisions = whole.stdout.trim().split('\n');
    expect(JSON.parse(decisions[0])).toMatchObject({ valid: true, desiredPodCount: 50, panic: false });
    expect(decisions.slice(1).join('\n')).toBe(thisRun.stdout.trim());
    expect(thisRun.stdout).toMatch(/"desiredPodCount":5,/);
  });
});
