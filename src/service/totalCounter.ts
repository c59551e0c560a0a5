import { Counter, type Registry } from 'prom-client';

/**
 * A counter whose value is a running total another object keeps (the stat
 * server's, the recorder's, the forwarder's), read when /metrics is scraped:
 * the total stays the one source of truth.
 */
export function totalCounter(registry: Registry, name: string, help: string, total: () => number): Counter {
  return new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset();
      this.inc(total());
    },
  });
}
