import { parentPort } from 'node:worker_threads';
import { runOne } from './sweep.js';

// One sweep lane: runs the scenarios it is sent, one at a time.
parentPort?.on('message', (msg: { scenarioFile: string; params: Record<string, string>; seedOffset?: number }) => {
  parentPort?.postMessage(runOne(msg.scenarioFile, msg.params, msg.seedOffset ?? 0));
});
