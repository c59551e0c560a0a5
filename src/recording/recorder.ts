import type { RevisionKey } from '../metrics/revisionKey.js';
import type { Stat } from '../metrics/stat.js';
import type { RevisionSettings } from '../config/revisionConfig.js';

/** Where recording lines go (a file stream in `kpa run --record`). */
export interface LineSink {
  write(line: string): void;
}

/**
 * Writes what the collector and deciders see in the recording format
 * (../shared/formats/recording.md), in the order they see it, so that
 * `kpa replay` reproduces the live decisions exactly.
 */
export class Recorder {
  constructor(private readonly sink: LineSink) {}

  private emit(event: Record<string, unknown>): void {
    this.sink.write(`${JSON.stringify(event)}\n`);
  }

  revision(t: number, key: RevisionKey, settings: RevisionSettings, ready: number | undefined): void {
    this.emit({
      type: 'revision', t, namespace: key.namespace, name: key.name,
      config: settings.config ?? {}, annotations: settings.annotations ?? {},
      containerConcurrency: settings.containerConcurrency ?? 0, reachable: settings.reachable ?? true,
      ...(ready === undefined ? {} : { ready }),
    });
  }

  stat(t: number, key: RevisionKey, stat: Stat): void {
    const { timestamp: _sentAt, ...fields } = stat;
    this.emit({ type: 'stat', t, namespace: key.namespace, name: key.name, stat: fields });
  }

  ready(t: number, key: RevisionKey, ready: number): void {
    this.emit({ type: 'ready', t, namespace: key.namespace, name: key.name, ready });
  }

  tick(t: number, key: RevisionKey): void {
    this.emit({ type: 'tick', t, namespace: key.namespace, name: key.name });
  }
}
