import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KPA_BIN } from '../helpers/cliHarness.js';

const run = promisify(execFile);
const CASES = readdirSync('test/conformance/public').filter((f) => f.endsWith('.jsonl') && !f.endsWith('.expected.jsonl')).length;

// `npm test` builds dist/ first; these run the built CLI as CI and users do.
describe('conformance recordings (expected output from Knative Serving’s own code)', () => {
  it('every recording replays to Knative’s decisions and exit status', async () => {
    const { stdout } = await run(process.execPath, ['test/conformance/check.mjs'], { timeout: 120_000 });
    expect(stdout.trim().split('\n').at(-1)).toBe(`${CASES} passed, 0 failed`);
    expect(CASES).toBeGreaterThanOrEqual(11);
  }, 130_000);

  it('the checker fails a command whose decisions differ', async () => {
    const err = await run(process.execPath, ['test/conformance/check.mjs', '--cmd', `${process.execPath} -e "" --`]).catch((e: { code: number; stdout: string }) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stdout: string }).stdout).toContain(`0 passed, ${CASES} failed`);
  }, 130_000);

  it('the built kpa is executable as npm links it, so `npx kpa` works in a fresh clone', async () => {
    expect(statSync(KPA_BIN).mode & 0o111).toBe(0o111);
    const { stdout } = await run(KPA_BIN, ['--version']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
