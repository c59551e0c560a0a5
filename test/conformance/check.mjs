#!/usr/bin/env node
// Replays conformance recordings through a command and compares its decisions
// with the expected ones (produced by Knative Serving's own autoscaler code).
//
// usage: node check.mjs [DIR ...] [--cmd "node dist/kpa/main.js replay"]
//   DIR defaults to ./public beside this script. For every NAME.jsonl in DIR the
//   command runs (from the current directory) with the file's path as its last
//   argument; its stdout must match NAME.expected.jsonl and its exit status
//   NAME.expected-exit (0 when absent). Each case gets 60 s.
//   Comparison (see docs/recording-format.md): t, namespace, name, valid,
//   desiredPodCount, excessBurstCapacity and panic exactly; stableValue and
//   panicValue within 1e-6 relative or 1e-9 absolute.
// The last line printed is `N passed, M failed`; the exit status is 1 when M > 0.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TIMEOUT_MS = 60_000;
const ALWAYS = ['t', 'namespace', 'name', 'valid'];
const DECISION = ['desiredPodCount', 'excessBurstCapacity', 'panic'];
const CLOSE = ['stableValue', 'panicValue'];

function parseArgs(argv) {
  let cmd = 'node dist/kpa/main.js replay';
  const dirs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--cmd') cmd = argv[++i];
    else if (argv[i].startsWith('--cmd=')) cmd = argv[i].slice('--cmd='.length);
    else dirs.push(argv[i]);
  }
  if (dirs.length === 0) dirs.push(path.join(path.dirname(fileURLToPath(import.meta.url)), 'public'));
  return { cmd, dirs };
}

const close = (a, b) => typeof a === 'number' && typeof b === 'number' &&
  (Math.abs(a - b) <= 1e-9 || Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b)));

const lines = (text) => text.split('\n').filter((l) => l.trim() !== '');
const clip = (s) => (s.length > 300 ? `${s.slice(0, 300)}…` : s);

// Returns null when the decisions agree, else a description of the first difference.
function firstDifference(expectedText, actualText) {
  const exp = lines(expectedText);
  const act = lines(actualText);
  for (let i = 0; i < Math.max(exp.length, act.length); i++) {
    const where = `line ${i + 1}`;
    if (i >= act.length) return `${where}: missing\n    expected ${exp[i]}`;
    if (i >= exp.length) return `${where}: unexpected extra output\n    actual   ${clip(act[i])}`;
    const e = JSON.parse(exp[i]);
    let a;
    try {
      a = JSON.parse(act[i]);
    } catch {
      return `${where}: not JSON\n    expected ${exp[i]}\n    actual   ${clip(act[i])}`;
    }
    const bad = ALWAYS.filter((k) => e[k] !== a?.[k]);
    if (e.valid === true && a?.valid === true) {
      bad.push(...DECISION.filter((k) => e[k] !== a[k]));
      bad.push(...CLOSE.filter((k) => !close(e[k], a[k])));
    }
    if (bad.length) return `${where} (${bad.join(', ')})\n    expected ${exp[i]}\n    actual   ${clip(act[i])}`;
  }
  return null;
}

let current = null; // the running case's process group, killed if we are interrupted
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current) try { process.kill(-current.pid, 'SIGKILL'); } catch { /* already gone */ }
    process.exit(130);
  });
}

// Runs `cmd 'file'` through the shell in its own process group; kills the group on timeout.
function run(cmd, file) {
  return new Promise((resolve) => {
    const quoted = `'${file.replaceAll("'", "'\\''")}'`;
    const child = spawn(`${cmd} ${quoted}`, { shell: true, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    const out = [];
    const err = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, TIMEOUT_MS);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => err.push(Buffer.from(String(e))));
    child.on('close', (status) => {
      clearTimeout(timer);
      current = null;
      resolve({ status, timedOut, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

async function checkCase(cmd, dir, name) {
  const expected = fs.readFileSync(path.join(dir, `${name}.expected.jsonl`), 'utf8');
  const exitFile = path.join(dir, `${name}.expected-exit`);
  const expectedExit = fs.existsSync(exitFile) ? Number(fs.readFileSync(exitFile, 'utf8').trim()) : 0;
  const r = await run(cmd, path.resolve(dir, `${name}.jsonl`));
  if (r.timedOut) return `timed out after ${TIMEOUT_MS / 1000} s`;
  const diff = firstDifference(expected, r.stdout);
  if (diff) return diff + (r.status !== expectedExit ? `\n    (exit status ${r.status}, expected ${expectedExit}; stderr: ${clip(r.stderr.trim())})` : '');
  if (r.status !== expectedExit) return `exit status ${r.status}, expected ${expectedExit}; stderr: ${clip(r.stderr.trim())}`;
  return null;
}

async function main() {
  const { cmd, dirs } = parseArgs(process.argv.slice(2));
  let passed = 0;
  let failed = 0;
  for (const dir of dirs) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      console.log(`FAIL ${dir}: not a directory`);
      failed++;
      continue;
    }
    const names = fs.readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl') && !f.endsWith('.expected.jsonl'))
      .map((f) => f.slice(0, -'.jsonl'.length))
      .sort();
    for (const name of names) {
      const problem = await checkCase(cmd, dir, name);
      if (problem) {
        failed++;
        console.log(`FAIL ${name}: ${problem}`);
      } else {
        passed++;
      }
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

main();
