import { resolveRevision } from '../config/revisionConfig.js';
import { MultiScaler, type RevisionAutoscaler } from '../decider/multiScaler.js';
import type { ScaleResult } from '../decider/decider.js';
import type { RevisionKey } from '../metrics/revisionKey.js';
import { type RecordingEvent, RecordingError } from './events.js';

/**
 * Feeds recording events through the engine in virtual time (the recording's
 * own `t`), exactly as the live service would have seen them.
 */
export class Replayer {
  // No warm-up: replay start-up must stay short, and a replay warms up the decision path by running it.
  readonly scalers = new MultiScaler({ warmUp: false });
  private lastT = -Infinity;

  /** Applies one event; returns the decision for a `tick`, else null. Throws on an invalid event. */
  apply(event: RecordingEvent): ScaleResult | null {
    if (event.type === 'restart') {
      // A restarted service starts every revision afresh from the revision lines that follow, on a clock that may
      // have been set back; replaying it on from the earlier run's state would give other decisions than it made.
      for (const scaler of [...this.scalers.all()]) this.scalers.delete(scaler.key);
      this.lastT = event.t;
      return null;
    }
    if (event.t < this.lastT) {
      throw new RecordingError(`t=${event.t} goes backwards (the previous event was at t=${this.lastT})`);
    }
    this.lastT = event.t;
    if (event.type === 'dropped') return null;
    if (event.type === 'revision') {
      const resolved = resolveRevision(event);
      this.scalers.upsert(event, resolved, event.t, event.ready);
      return null;
    }
    const scaler = this.scaler(event);
    switch (event.type) {
      case 'stat':
        scaler.record(event.t, event.stat);
        return null;
      case 'ready':
        scaler.readyPods = event.ready;
        return null;
      case 'tick':
        return scaler.tick(event.t);
    }
  }

  private scaler(event: RecordingEvent & RevisionKey): RevisionAutoscaler {
    const scaler = this.scalers.get(event);
    if (scaler) return scaler;
    throw new RecordingError(`revision ${event.namespace}/${event.name} was not created by a "revision" event before`);
  }
}
