import { emptyStat } from '../metrics/stat.js';
import type { ReadyEvent, RecordingEvent, StatEvent, TickEvent } from './events.js';

/**
 * Reads the events that make up nearly all of a recording — `stat`, `tick`
 * and `ready` lines of plain ASCII JSON — straight from the input bytes,
 * without decoding the line to a string or building JSON.parse's object
 * first (that was half of a replay's time). Anything it is not sure of (a
 * `revision` line, an escape, a non-ASCII byte, an unknown or repeated
 * field, a value of the wrong type, a number that needs more than a single
 * correctly rounded operation, anything invalid) it leaves to
 * `parseEventLine`, which then gives the same event or the error message.
 * So for every line it accepts, it returns exactly what
 * `parseEventLine(line)` returns.
 *
 * The event it returns is its own, overwritten by the next scan (a replay
 * applies each event before reading the next line): a line allocates
 * nothing, not even the boxes of its numbers.
 */

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

const MAX_COUNT = 2147483647;
/** Below 2^53 every whole number is a double: digits accumulate exactly. */
const EXACT_INTEGER = 2 ** 53;
/** Powers of ten that are exact doubles: one multiplication or division by them is correctly rounded (Clinger). */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
// Top-level fields, in the order their names are tried (a bit each, to catch repeats).
const TOP_KEYS = ['t', 'type', 'namespace', 'name', 'stat', 'ready'].map(bytes);
const F_T = 1;
const F_TYPE = 2;
const F_NAMESPACE = 4;
const F_NAME = 8;
const F_STAT = 16;
const F_READY = 32;
// Values of "type".
const V_STAT = bytes('stat');
const V_TICK = bytes('tick');
const V_READY = bytes('ready');
// Stat fields: STAT_NUMBER_FIELDS in their order, then podName.
const STAT_KEYS = [
  'averageConcurrentRequests', 'averageProxiedConcurrentRequests', 'requestCount', 'proxiedRequestCount', 'processUptime', 'podName',
].map(bytes);
const POD_NAME = 5;

const TYPE_STAT = 1;
const TYPE_TICK = 2;
const TYPE_READY = 3;

const MAX_INTERNED = 4096;

/** Fails a scan: the caller falls back to JSON.parse. */
const FAIL = -1;

export class EventScanner {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;
  /** The last string value read: its bytes are [strStart, strEnd). */
  private strStart = 0;
  private strEnd = 0;
  /** The last number read. */
  private number = NaN;
  /** The stat fields of the line being read, filled as they come. */
  private readonly statValues = new Float64Array(STAT_KEYS.length);
  private statSeen = 0;
  private podName = '';
  /** Strings read before, by a hash of their bytes. */
  private readonly strings = new Map<number, string>();
  // The events handed out, one of each type, with numbers that are doubles from the start.
  private readonly tick: TickEvent = { type: 'tick', t: NaN, namespace: '', name: '' };
  private readonly stat: StatEvent = { type: 'stat', t: NaN, namespace: '', name: '', stat: emptyStat('') };
  private readonly ready: ReadyEvent = { type: 'ready', t: NaN, namespace: '', name: '', ready: NaN };

  /** The event on bytes [start, end) of `buf`, or null to leave the line to parseEventLine. */
  scan(buf: Buffer, start: number, end: number): RecordingEvent | null {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.skipSpace();
    if (!this.take(OPEN)) return null;
    let seen = 0;
    let type = 0;
    let t = NaN;
    let namespace = '';
    let name = '';
    let ready = NaN;
    let hasStat = false;
    for (;;) {
      this.skipSpace();
      const key = this.key(TOP_KEYS);
      this.skipSpace();
      if (key === FAIL || !this.take(COLON)) return null;
      this.skipSpace();
      const field = 1 << key;
      if (field === F_T) {
        if (!this.readNumber()) return null;
        t = this.number;
      } else if (field === F_TYPE) {
        if (this.readString() === FAIL) return null;
        type = this.typeOf();
        if (type === 0) return null;
      } else if (field === F_NAMESPACE) {
        namespace = this.readNonEmptyString();
        if (namespace === '') return null;
      } else if (field === F_NAME) {
        name = this.readNonEmptyString();
        if (name === '') return null;
      } else if (field === F_STAT) {
        hasStat = this.readStat();
        if (!hasStat) return null;
      } else {
        if (!this.readNumber()) return null;
        ready = this.number;
      }
      // A repeated field: JSON.parse keeps the last, which is not worth copying here.
      if ((seen & field) !== 0) return null;
      seen |= field;
      this.skipSpace();
      if (this.take(CLOSE)) break;
      if (!this.take(COMMA)) return null;
    }
    this.skipSpace();
    if (this.pos !== this.end) return null;
    if ((seen & (F_TYPE | F_T | F_NAMESPACE | F_NAME)) !== (F_TYPE | F_T | F_NAMESPACE | F_NAME)) return null;
    let event: TickEvent | StatEvent | ReadyEvent;
    switch (type) {
      case TYPE_TICK:
        event = this.tick;
        break;
      case TYPE_STAT:
        if (!hasStat) return null;
        event = this.stat;
        break;
      default:
        // A ready count must be whole, ≥ 0 and fit int32 (parseEventLine names the problem otherwise).
        if ((seen & F_READY) === 0 || !Number.isInteger(ready) || ready < 0 || ready > MAX_COUNT) return null;
        event = this.ready;
        event.ready = ready;
    }
    event.t = t;
    event.namespace = namespace;
    event.name = name;
    return event;
  }

  private skipSpace(): void {
    const buf = this.buf;
    let pos = this.pos;
    while (pos < this.end) {
      const c = buf[pos];
      if (c !== SPACE && c !== TAB && c !== CR && c !== LF) break;
      pos++;
    }
    this.pos = pos;
  }

  private take(c: number): boolean {
    if (this.pos < this.end && this.buf[this.pos] === c) {
      this.pos++;
      return true;
    }
    return false;
  }

  /**
   * Which of `keys` the field name at pos is, compared byte by byte with its
   * closing quote (an escape or any other name matches none); FAIL if none.
   */
  private key(keys: Uint8Array[]): number {
    const buf = this.buf;
    const start = this.pos + 1;
    if (start >= this.end || buf[this.pos] !== QUOTE) return FAIL;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      const close = start + key.length;
      if (close >= this.end || buf[close] !== QUOTE) continue;
      let i = 0;
      while (i < key.length && buf[start + i] === key[i]) i++;
      if (i === key.length) {
        this.pos = close + 1;
        return k;
      }
    }
    return FAIL;
  }

  /** A string without escapes, control characters or non-ASCII bytes: sets strStart/strEnd. */
  private readString(): number {
    const buf = this.buf;
    if (!this.take(QUOTE)) return FAIL;
    const start = this.pos;
    for (let pos = start; pos < this.end; pos++) {
      const c = buf[pos];
      if (c === QUOTE) {
        this.strStart = start;
        this.strEnd = pos;
        this.pos = pos + 1;
        return pos - start;
      }
      if (c === BACKSLASH || c < SPACE || c >= 0x80) return FAIL;
    }
    return FAIL;
  }

  /** A non-empty string value, decoded; '' when there is none. */
  private readNonEmptyString(): string {
    if (this.readString() <= 0) return '';
    return this.intern();
  }

  /**
   * The string of bytes [strStart, strEnd): the same string object each time
   * the same bytes come (revision and pod names repeat on every line), so
   * that a line allocates no strings and map lookups find their hash cached.
   */
  private intern(): string {
    const buf = this.buf;
    const start = this.strStart;
    const end = this.strEnd;
    let hash = end - start;
    for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + buf[i]) | 0;
    const cached = this.strings.get(hash);
    if (cached !== undefined && cached.length === end - start) {
      let i = 0;
      while (i < cached.length && cached.charCodeAt(i) === buf[start + i]) i++;
      if (i === cached.length) return cached;
    }
    const s = buf.toString('latin1', start, end);
    // Bounded: a recording of many short-lived pods must not grow the cache without end.
    if (this.strings.size >= MAX_INTERNED) this.strings.clear();
    this.strings.set(hash, s);
    return s;
  }

  private keyIs(start: number, length: number, key: Uint8Array): boolean {
    if (length !== key.length) return false;
    const buf = this.buf;
    for (let i = 0; i < length; i++) if (buf[start + i] !== key[i]) return false;
    return true;
  }

  private typeOf(): number {
    const start = this.strStart;
    const length = this.strEnd - start;
    if (this.keyIs(start, length, V_STAT)) return TYPE_STAT;
    if (this.keyIs(start, length, V_TICK)) return TYPE_TICK;
    if (this.keyIs(start, length, V_READY)) return TYPE_READY;
    return 0;
  }

  /**
   * A JSON number into this.number, as JSON.parse reads it; false when it is
   * not one or needs more than the exact fast path: up to 2^53 in its digits
   * and one multiplication or division by an exact power of ten. (A field, not
   * a return value: a returned double is boxed, one allocation per number.)
   */
  private readNumber(): boolean {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    const negative = pos < end && buf[pos] === MINUS;
    if (negative) pos++;
    if (pos >= end) return false;
    let digits = 0;
    let c = buf[pos];
    if (c === ZERO) {
      pos++;
    } else if (c > ZERO && c <= NINE) {
      while (pos < end && (c = buf[pos]) >= ZERO && c <= NINE) {
        digits = digits * 10 + (c - ZERO);
        pos++;
      }
    } else {
      return false;
    }
    let scale = 0;
    if (pos < end && buf[pos] === DOT) {
      pos++;
      const first = pos;
      while (pos < end && (c = buf[pos]) >= ZERO && c <= NINE) {
        digits = digits * 10 + (c - ZERO);
        pos++;
      }
      if (pos === first) return false;
      scale = pos - first;
    }
    if (pos < end && ((c = buf[pos]) === LOWER_E || c === UPPER_E)) {
      pos++;
      let exponentNegative = false;
      if (pos < end && ((c = buf[pos]) === MINUS || c === PLUS)) {
        exponentNegative = c === MINUS;
        pos++;
      }
      const first = pos;
      let exponent = 0;
      while (pos < end && (c = buf[pos]) >= ZERO && c <= NINE && exponent < 1000) {
        exponent = exponent * 10 + (c - ZERO);
        pos++;
      }
      if (pos === first || (pos < end && buf[pos] >= ZERO && buf[pos] <= NINE)) return false;
      scale += exponentNegative ? exponent : -exponent;
    }
    if (!(digits < EXACT_INTEGER)) return false;
    let value: number;
    if (scale === 0 || digits === 0) value = digits;
    else if (scale > 0 && scale < POWERS_OF_TEN.length) value = digits / POWERS_OF_TEN[scale];
    else if (scale < 0 && -scale < POWERS_OF_TEN.length) value = digits * POWERS_OF_TEN[-scale];
    else return false;
    // The product can overflow to Infinity, which JSON.parse gives too but parseEventLine rejects.
    if (value === Infinity) return false;
    this.pos = pos;
    this.number = negative ? -value : value;
    return true;
  }

  /** The stat object into this.stat.stat: podName and the numeric fields; false to fall back. */
  private readStat(): boolean {
    if (!this.take(OPEN)) return false;
    const values = this.statValues;
    this.statSeen = 0;
    this.podName = '';
    this.skipSpace();
    if (!this.take(CLOSE)) {
      for (;;) {
        this.skipSpace();
        const i = this.key(STAT_KEYS);
        this.skipSpace();
        if (i === FAIL || (this.statSeen & (1 << i)) !== 0 || !this.take(COLON)) return false;
        this.skipSpace();
        this.statSeen |= 1 << i;
        if (i === POD_NAME) {
          if (this.readString() === FAIL) return false;
          this.podName = this.intern();
        } else {
          if (!this.readNumber()) return false;
          values[i] = this.number;
        }
        this.skipSpace();
        if (this.take(CLOSE)) break;
        if (!this.take(COMMA)) return false;
      }
    }
    // A field left out is 0, as in emptyStat.
    const stat = this.stat.stat;
    const seen = this.statSeen;
    stat.podName = this.podName;
    stat.averageConcurrentRequests = (seen & 1) !== 0 ? values[0] : 0;
    stat.averageProxiedConcurrentRequests = (seen & 2) !== 0 ? values[1] : 0;
    stat.requestCount = (seen & 4) !== 0 ? values[2] : 0;
    stat.proxiedRequestCount = (seen & 8) !== 0 ? values[3] : 0;
    stat.processUptime = (seen & 16) !== 0 ? values[4] : 0;
    return true;
  }
}
