/**
 * Time for the whole project, in seconds since the Unix epoch (fractions
 * allowed). The core never reads the wall clock: shells inject one of these.
 */
export interface Clock {
  now(): number;
}

/** The wall clock, for the live service. */
export const systemClock: Clock = { now: () => Date.now() / 1000 };

/** A clock that moves only when told to: replay, simulation and tests. */
export class ManualClock implements Clock {
  constructor(private current = 0) {}

  now(): number {
    return this.current;
  }

  set(seconds: number): void {
    this.current = seconds;
  }

  advance(seconds: number): void {
    this.current += seconds;
  }
}
