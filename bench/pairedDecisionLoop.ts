/**
 * The decision loop of bench/decisionLoop.ts for two builds in one process,
 * tick by tick in turn: this one and another (the code before a change, built
 * in a worktree). On a shared 2-core machine one process's figures move by
 * half or more from one run to the next, with the host's other load; ticks of
 * the two builds taken in turn, milliseconds apart, see the same load, and
 * their ratio holds where the rates do not. Both builds are fed the same stats
 * and must make the same decisions: a checksum of every decision is compared.
 *
 * `node dist/bench/pairedDecisionLoop.js <other build's root> linear|weighted [ticks-before-steady] [steady ticks]`
 * prints one JSON line: for the first 10 ticks and for ticks after
 * `ticks-before-steady` (default 300), each build's decisions per CPU second
 * and the median of the per-tick ratios (the other build's CPU time over
 * this one's: above 1, this build is faster).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveRevision } from '../src/config/revisionConfig.js';
import { MultiScaler } from '../src/decider/multiScaler.js';
import { cpuMicros, loopRevisions, REVISIONS } from './decisionLoop.js';

const FIRST_TICKS = 10;

/** What the loop needs of a build: the same names in both. */
interface Build {
  MultiScaler: typeof MultiScaler;
  resolveRevision: typeof resolveRevision;
}

interface Side {
  second(): void;
  /** One tick of every revision; returns a checksum of its decisions. */
  tick(): number;
}

export interface PhaseResult {
  thisRate: number;
  otherRate: number;
  /** Median over ticks of (other build's CPU time) / (this build's). */
  medianRatio: number;
}

const valueBits = new Float64Array(2);
const valueWords = new Uint32Array(valueBits.buffer);

function side(build: Build, algorithm: 'linear' | 'weighted'): Side {
  const { list, now: nextSecond, second } = loopRevisions(new build.MultiScaler(), algorithm, REVISIONS, build.resolveRevision);
  return {
    second,
    tick() {
      const now = nextSecond();
      let sum = 0;
      for (let i = 0; i < REVISIONS; i++) {
        const result = list[i].tick(now);
        if (!result.valid) continue;
        list[i].readyPods = result.desiredPodCount;
        // Every bit of the window averages too: a speed-up that moves one bit of one is a regression.
        valueBits[0] = result.stableValue;
        valueBits[1] = result.panicValue;
        const averages = (valueWords[0] ^ valueWords[1] ^ (valueWords[2] * 3) ^ (valueWords[3] * 5)) >>> 0;
        sum = (sum * 31 + averages + result.desiredPodCount * 7 + result.excessBurstCapacity + (result.panic ? 1 : 0)) % 1_000_000_007;
      }
      return sum;
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

export async function runPaired(
  otherRoot: string, algorithm: 'linear' | 'weighted', steadyAfter = 300, steadyTicks = 100,
): Promise<{ algorithm: string; first: PhaseResult; steady: PhaseResult }> {
  const load = async (file: string) => import(pathToFileURL(path.resolve(otherRoot, file)).href) as Promise<Record<string, unknown>>;
  const other: Build = {
    MultiScaler: (await load('dist/src/decider/multiScaler.js')).MultiScaler as typeof MultiScaler,
    resolveRevision: (await load('dist/src/config/revisionConfig.js')).resolveRevision as typeof resolveRevision,
  };
  const sides = [side({ MultiScaler, resolveRevision }, algorithm), side(other, algorithm)];
  let ticked = 0;
  const phase = (ticks: number): PhaseResult => {
    const cpu = [[] as number[], [] as number[]];
    for (let k = 0; k < ticks; k++) {
      // Each build goes first in every other tick, so that neither always follows the other's garbage.
      const checks: number[] = [];
      for (const j of k % 2 === 0 ? [0, 1] : [1, 0]) {
        sides[j].second();
        sides[j].second();
        const c0 = cpuMicros();
        checks[j] = sides[j].tick();
        cpu[j].push(cpuMicros() - c0);
      }
      if (checks[0] !== checks[1]) throw new Error(`tick ${ticked + k}: the two builds' decisions differ`);
    }
    ticked += ticks;
    const total = cpu.map((c) => c.reduce((a, b) => a + b, 0) / 1e6);
    return {
      thisRate: (ticks * REVISIONS) / total[0],
      otherRate: (ticks * REVISIONS) / total[1],
      medianRatio: median(cpu[1].map((c, i) => c / Math.max(1, cpu[0][i]))),
    };
  };
  const first = phase(FIRST_TICKS);
  while (ticked < steadyAfter) {
    for (const s of sides) {
      s.second();
      s.second();
      s.tick();
    }
    ticked++;
  }
  const steady = phase(steadyTicks);
  return { algorithm, first, steady };
}

if (process.argv[1]?.endsWith('pairedDecisionLoop.js')) {
  const [otherRoot, algorithm, steadyAfter, steadyTicks] = process.argv.slice(2);
  if (otherRoot === undefined) {
    process.stderr.write('usage: node dist/bench/pairedDecisionLoop.js <other build\'s root> linear|weighted [ticks-before-steady] [steady ticks]\n');
    process.exit(2);
  }
  const result = await runPaired(
    otherRoot, algorithm === 'weighted' ? 'weighted' : 'linear',
    steadyAfter === undefined ? undefined : Number(steadyAfter), steadyTicks === undefined ? undefined : Number(steadyTicks),
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
