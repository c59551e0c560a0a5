import type { ScaleResult } from '../decider/decider.js';
import type { RevisionKey } from '../metrics/revisionKey.js';

/** Output is handed over in pieces of this size. */
const PIECE_BYTES = 64 * 1024;
/** Room for a line's fixed text and five numbers of at most 25 characters. */
const FIXED_BYTES = 256;

/**
 * The output lines of `kpa replay` (recording.md, "Output") as UTF-8 bytes,
 * in pieces of PIECE_BYTES:
 *
 *   {"t":T,"namespace":NS,"name":NAME,"valid":false}
 *   {"t":T,"namespace":NS,"name":NAME,"valid":true,"desiredPodCount":N,"excessBurstCapacity":N,"panic":B,"stableValue":X,"panicValue":X}
 *
 * with numbers as JavaScript prints them and NS, NAME as JSON.stringify
 * quotes them; with an explanation (`kpa replay --explain`) a last field
 * `"explain":TEXT` before the closing brace. Written straight into the piece: a line built as a string
 * first was most of what a replay allocated, and strings kept until the next
 * write outlive young-generation collections, for which V8 grows the heap.
 */
export class DecisionLines {
  private piece = Buffer.allocUnsafe(PIECE_BYTES);
  private used = 0;
  private readonly filled: Buffer[] = [];
  /** `,"namespace":NS,"name":NAME,"valid":` per name (and the namespace it was made for). */
  private readonly keys = new Map<string, { namespace: string; text: string }>();

  /** Whether a piece is ready to be written. */
  get full(): boolean {
    return this.filled.length > 0;
  }

  add(t: number, key: RevisionKey, result: ScaleResult, explain?: string): void {
    const keyText = this.keyText(key);
    const explainText = explain === undefined ? '' : `,"explain":${JSON.stringify(explain)}`;
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    const most = 3 * (keyText.length + explainText.length) + FIXED_BYTES;
    if (this.used + most > PIECE_BYTES) {
      this.seal();
      // A key longer than a piece (names go up to the 1 MiB line limit): a piece of its own.
      if (most > PIECE_BYTES) this.piece = Buffer.allocUnsafe(most);
    }
    this.ascii('{"t":');
    this.number(t);
    this.used += this.piece.write(keyText, this.used);
    if (!result.valid) {
      this.ascii('false');
      this.close(explainText);
      return;
    }
    this.ascii('true,"desiredPodCount":');
    this.number(result.desiredPodCount);
    this.ascii(',"excessBurstCapacity":');
    this.number(result.excessBurstCapacity);
    this.ascii(result.panic ? ',"panic":true,"stableValue":' : ',"panic":false,"stableValue":');
    this.number(result.stableValue);
    this.ascii(',"panicValue":');
    this.number(result.panicValue);
    this.close(explainText);
  }

  private close(explainText: string): void {
    if (explainText !== '') this.used += this.piece.write(explainText, this.used);
    this.ascii('}\n');
  }

  /** Everything added so far, handed over once. */
  take(): Buffer[] {
    this.seal();
    return this.filled.splice(0);
  }

  private keyText(key: RevisionKey): string {
    const cached = this.keys.get(key.name);
    if (cached !== undefined && cached.namespace === key.namespace) return cached.text;
    const text = `,"namespace":${JSON.stringify(key.namespace)},"name":${JSON.stringify(key.name)},"valid":`;
    // Bounded: a recording may create revisions without end.
    if (this.keys.size >= 4096) this.keys.clear();
    this.keys.set(key.name, { namespace: key.namespace, text });
    return text;
  }

  private ascii(text: string): void {
    this.used += this.piece.write(text, this.used, 'latin1');
  }

  /**
   * `${x}` for a finite x: a safe integer digit by digit (below 2^53 its
   * digits are what JavaScript prints), any other number through
   * JSON.stringify, which prints finite numbers as String does but without
   * V8's number-to-string cache: strings in that cache survive collections
   * and filled the old generation with dead ones, two per decision.
   */
  private number(x: number): void {
    if (!Number.isSafeInteger(x)) {
      this.ascii(JSON.stringify(x));
      return;
    }
    const piece = this.piece;
    // String(-0) is "0".
    if (x < 0) {
      piece[this.used++] = 0x2d;
      x = -x;
    }
    let digits = 1;
    for (let p = 10; p <= x; p *= 10) digits++;
    let at = this.used + digits;
    this.used = at;
    do {
      const q = Math.floor(x / 10);
      piece[--at] = 0x30 + (x - q * 10);
      x = q;
    } while (x > 0);
  }

  private seal(): void {
    if (this.used === 0) return;
    this.filled.push(this.piece.subarray(0, this.used));
    this.piece = Buffer.allocUnsafe(PIECE_BYTES);
    this.used = 0;
  }
}
