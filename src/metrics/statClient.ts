import WebSocket from 'ws';
import { encodeBinaryFrame, encodeJsonFrame, type RevisionStat } from './wireStats.js';

/**
 * The activator's side of the stat protocol: sends batches of stats to the
 * autoscaler's websocket as protobuf `WireStatMessages` (or JSON text frames).
 * Used by tests and the embedded demo's activator.
 */
export class StatClient {
  private constructor(private readonly ws: WebSocket) {}

  static connect(url: string): Promise<StatClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => {
        ws.off('error', reject);
        ws.on('error', () => undefined); // a later failure surfaces as 'close'
        resolve(new StatClient(ws));
      });
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Resolves with the close code the server sent (1012 on an autoscaler restart). */
  closed(): Promise<number> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve(1006);
    return new Promise((resolve) => this.ws.once('close', (code: number) => resolve(code)));
  }

  send(stats: readonly RevisionStat[], format: 'protobuf' | 'json' = 'protobuf'): Promise<void> {
    return this.sendRaw(format === 'protobuf' ? encodeBinaryFrame(stats) : encodeJsonFrame(stats));
  }

  /** Sends a frame as is (tests use it for hostile input). */
  sendRaw(frame: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.send(frame, { binary: typeof frame !== 'string' }, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close(1000);
    return done;
  }
}
