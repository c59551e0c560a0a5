/**
 * Preloaded with `node --import` into a process the replay benchmark times:
 * at exit it writes the process's own CPU time and peak RSS to the file named
 * by KPA_BENCH_USAGE (the parent cannot get a child's rusage from Node).
 */
import { writeFileSync } from 'node:fs';

const file = process.env.KPA_BENCH_USAGE;
if (file) {
  process.once('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, maxRssBytes: usage.maxRSS * 1024 }));
  });
}
