import type { RevisionKey } from '../metrics/revisionKey.js';
import type { Stat } from '../metrics/stat.js';
import type { RevisionSettings } from '../config/revisionConfig.js';

/** Where recording lines go (a file stream in `kpa run --record`). */
export interface LineSink {
  write(line: string): void;
  /**
   * Bytes handed to the sink and not yet written (a stream's
   * `writableLength`). A sink without it (a synchronous file) never makes
   * the recorder drop.
   */
  readonly writableLength?: number;
}

export interface RecorderOptions {
  /**
   * Past this many bytes waiting in the sink, events are dropped instead of
   * buffered: a recording must never grow the service's memory because the
   * disk is slower than the ingest.
   */
  maxBufferedBytes?: number;
  /**
   * The sink already holds an earlier recording (`--record-append`): the
   * first line is then a `restart` marker, so a replay starts this run's
   * revisions afresh, as the restarted service did.
   */
  appending?: boolean;
}

/** 4 MiB: several seconds of a busy service's events, a bounded cost when the disk stalls. */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * Writes what the collector and deciders see in the recording format
 * (docs/recording-format.md), in the order they see it, so that
 * `kpa replay` reproduces the live decisions exactly.
 *
 * When the sink falls behind, `stat` and `tick` events (the bulk, one per
 * stat and per revision every 2 s) are dropped and counted, and a `dropped`
 * line says how many where they went missing, so a replay warns that its
 * decisions may differ from there. `revision` and `ready` lines are always
 * written: they come once per spec or pod-count change, not per unit of load,
 * and without them nothing after would replay.
 */
export class Recorder {
  private readonly maxBufferedBytes: number;
  /** Whether the `restart` marker is still to be written, and the `t` it carries: the first event's. */
  private restartPending: boolean;
  private restartAt: number | undefined;
  /** Events dropped since the last line that reached the sink, and the `t` of the first of them. */
  private unreported = 0;
  private firstDroppedAt = 0;
  private dropped = 0;

  constructor(private readonly sink: LineSink, options: RecorderOptions = {}) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.restartPending = options.appending ?? false;
  }

  /** Events dropped so far because the sink could not keep up (kpa_recorder_dropped_events_total). */
  get droppedEvents(): number {
    return this.dropped;
  }

  revision(t: number, key: RevisionKey, settings: RevisionSettings, ready: number | undefined): void {
    this.write(t, {
      type: 'revision', t, namespace: key.namespace, name: key.name,
      config: settings.config ?? {}, annotations: settings.annotations ?? {},
      containerConcurrency: settings.containerConcurrency ?? 0, reachable: settings.reachable ?? true,
      ...(ready === undefined ? {} : { ready }),
    });
  }

  stat(t: number, key: RevisionKey, stat: Stat): void {
    // Checked before the event is built: a dropped stat costs a comparison, not a serialisation.
    if (this.drops(t)) return;
    const { timestamp: _sentAt, ...fields } = stat;
    this.write(t, { type: 'stat', t, namespace: key.namespace, name: key.name, stat: fields });
  }

  ready(t: number, key: RevisionKey, ready: number): void {
    this.write(t, { type: 'ready', t, namespace: key.namespace, name: key.name, ready });
  }

  tick(t: number, key: RevisionKey): void {
    if (this.drops(t)) return;
    this.write(t, { type: 'tick', t, namespace: key.namespace, name: key.name });
  }

  /**
   * Writes the `dropped` line for events dropped since the last line, if
   * any, however full the sink is: called before the recording is closed, so
   * a recording that ends in a stall still says so.
   */
  reportDropped(): void {
    if (this.unreported === 0) return;
    this.restart();
    this.line({ type: 'dropped', t: this.firstDroppedAt, count: this.unreported });
    this.unreported = 0;
  }

  /** Whether the sink is too far behind to take an event at `t`; counts it then. */
  private drops(t: number): boolean {
    this.restartAt ??= t;
    if ((this.sink.writableLength ?? 0) <= this.maxBufferedBytes) return false;
    if (this.unreported === 0) this.firstDroppedAt = t;
    this.unreported++;
    this.dropped++;
    return true;
  }

  private write(t: number, event: Record<string, unknown>): void {
    this.restartAt ??= t;
    this.restart();
    this.reportDropped();
    this.line(event);
  }

  /** Before this run's first line, when appending: the `restart` marker. */
  private restart(): void {
    if (!this.restartPending) return;
    this.restartPending = false;
    this.line({ type: 'restart', t: this.restartAt });
  }

  private line(event: Record<string, unknown>): void {
    this.sink.write(`${JSON.stringify(event)}\n`);
  }
}
