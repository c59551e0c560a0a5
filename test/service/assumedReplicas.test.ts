import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { AssumedReplicas } from '../../src/service/assumedReplicas.js';

const KEY = { namespace: 'default', name: 'control' };

describe('AssumedReplicas', () => {
  it('makes an applied count the ready count after the delay, not before', () => {
    const clock = new ManualClock(100);
    const assumed = new AssumedReplicas(clock, 5);
    assumed.track(KEY, 0);
    expect(assumed.currentReplicas(KEY)).toBe(0);
    assumed.apply(KEY, 10);
    expect(assumed.currentReplicas(KEY)).toBe(10); // what the scaler compares its next wish with
    expect(assumed.nextDueAt()).toBe(105);
    clock.set(104.9);
    expect(assumed.due()).toEqual([]);
    clock.set(105);
    expect(assumed.due()).toEqual([{ key: KEY, ready: 10 }]);
    expect(assumed.due()).toEqual([]);
    expect(assumed.nextDueAt()).toBeUndefined();
  });

  it('lands each applied count in turn; of several due at once, only the latest', () => {
    const clock = new ManualClock(0);
    const assumed = new AssumedReplicas(clock, 5);
    assumed.track(KEY, 1);
    assumed.apply(KEY, 10);
    clock.set(2);
    assumed.apply(KEY, 3);
    clock.set(5);
    expect(assumed.due()).toEqual([{ key: KEY, ready: 10 }]);
    clock.set(7);
    expect(assumed.due()).toEqual([{ key: KEY, ready: 3 }]);
    assumed.apply(KEY, 8);
    clock.set(8);
    assumed.apply(KEY, 4);
    clock.set(30); // a late timer: the 8 was superseded before anyone saw it
    expect(assumed.due()).toEqual([{ key: KEY, ready: 4 }]);
  });

  it('with no delay, an applied count is due at once; untracked revisions are ignored', () => {
    const clock = new ManualClock(50);
    const assumed = new AssumedReplicas(clock, 0);
    assumed.track(KEY, 2);
    assumed.track(KEY, 7); // tracked already: the applied count is kept
    assumed.apply({ namespace: 'x', name: 'y' }, 5);
    assumed.apply(KEY, 4);
    expect(assumed.due()).toEqual([{ key: KEY, ready: 4 }]);
    expect(assumed.currentReplicas({ namespace: 'x', name: 'y' })).toBe(0);
  });
});

