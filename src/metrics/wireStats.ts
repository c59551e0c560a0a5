import { create, fromBinary, toBinary, toJsonString } from '@bufbuild/protobuf';
import {
  type Stat as WireStat, StatSchema, type WireStatMessage, WireStatMessageSchema, WireStatMessagesSchema,
} from './gen/stat_pb.js';
import type { RevisionKey } from './revisionKey.js';
import {
  checkStat, DEFAULT_STAT_BOUNDS, emptyStat, type Stat, type StatBounds, type StatRejection,
} from './stat.js';

/** One stat for one revision, as the activator sends it. */
export interface RevisionStat {
  key: RevisionKey;
  stat: Stat;
}

/** Messages per frame past which the whole frame is refused (an activator sends one per revision it fronts). */
export const DEFAULT_MAX_MESSAGES_PER_FRAME = 10_000;

export interface DecodeLimits {
  bounds: StatBounds;
  maxMessagesPerFrame: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  bounds: DEFAULT_STAT_BOUNDS, maxMessagesPerFrame: DEFAULT_MAX_MESSAGES_PER_FRAME,
});

/**
 * A frame split into its messages but not yet decoded, so a caller can decode
 * a slice at a time and let timers and sockets run in between. A refused
 * message is a plain StatRejection value: no Error, no stack trace, so a frame
 * of ten thousand bad messages costs no more than ten thousand good ones.
 */
export interface PendingFrame {
  readonly count: number;
  decode(index: number): RevisionStat | StatRejection;
}

export function isRejection(x: RevisionStat | StatRejection): x is StatRejection {
  return (x as StatRejection).reason !== undefined;
}

const MALFORMED_FRAME: StatRejection = Object.freeze({ reason: 'malformed', field: 'frame' });

/** A Knative protobuf Stat as ours, checked against `bounds`. */
export function statFromWire(wire: WireStat, bounds: StatBounds = DEFAULT_STAT_BOUNDS): Stat | StatRejection {
  const stat: Stat = {
    podName: wire.podName,
    averageConcurrentRequests: wire.averageConcurrentRequests,
    averageProxiedConcurrentRequests: wire.averageProxiedConcurrentRequests,
    requestCount: wire.requestCount,
    proxiedRequestCount: wire.proxiedRequestCount,
    processUptime: wire.processUptime,
  };
  const rejected = checkStat(stat, bounds);
  if (rejected) return rejected;
  if (wire.timestamp !== 0n) stat.timestamp = Number(wire.timestamp);
  return stat;
}

const MISSING_NAMESPACE: StatRejection = Object.freeze({ reason: 'missing-field', field: 'namespace' });
const MISSING_NAME: StatRejection = Object.freeze({ reason: 'missing-field', field: 'name' });
const MISSING_STAT: StatRejection = Object.freeze({ reason: 'missing-field', field: 'stat' });

function fromMessage(m: WireStatMessage, bounds: StatBounds): RevisionStat | StatRejection {
  if (m.namespace === '') return MISSING_NAMESPACE;
  if (m.name === '') return MISSING_NAME;
  if (!m.stat) return MISSING_STAT;
  const stat = statFromWire(m.stat, bounds);
  return 'reason' in stat ? stat : { key: { namespace: m.namespace, name: m.name }, stat };
}

/**
 * Reads a protobuf varint at `at` of at most 5 bytes (enough for any length
 * or tag in a frame under 4 GiB); returns [value, next offset], or null.
 */
function varint(bytes: Uint8Array, at: number, out: [number, number]): boolean {
  let value = 0;
  for (let i = 0; i < 10; i++) {
    if (at + i >= bytes.length) return false;
    const b = bytes[at + i];
    if (i < 5) value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      out[0] = value;
      out[1] = at + i + 1;
      return true;
    }
  }
  return false;
}

/** The varint reader's out-parameter, shared: the walks never nest a read inside another's use of it. */
const WALK: [number, number] = [0, 0];

/** Wire types by field number: 0 varint, 1 fixed64, 2 length-delimited (a nested message where given). */
interface FieldShapes {
  readonly [field: number]: number | FieldShapes;
}
/** metrics.Stat: pod_name (2), five doubles (1), timestamp int64 (0). */
const STAT_FIELDS: FieldShapes = { 1: 2, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 0 };
/** metrics.WireStatMessage: namespace and name (2), stat (a Stat). */
const WIRE_STAT_MESSAGE_FIELDS: FieldShapes = { 1: 2, 2: 2, 3: STAT_FIELDS };

/**
 * Whether `bytes[start, end)` is a message of the given shape that protobuf-es
 * decodes without throwing, found without throwing. As protobuf-es does, a
 * known field is read by its schema type whatever wire type its tag says, and
 * an unknown field is skipped by its wire type (groups included). Stricter in
 * one way: a nested message's fields must end inside its length (protobuf-es
 * reads past it), so such garbage is refused rather than half-read.
 */
function wellFormed(bytes: Uint8Array, start: number, end: number, shapes: FieldShapes): boolean {
  const read = WALK;
  let at = start;
  // Unknown groups being skipped: their field numbers, innermost last (made only if there is one).
  let groups: number[] | null = null;
  while (at < end) {
    if (!varint(bytes, at, read) || read[1] > end) return false;
    const tag = read[0];
    at = read[1];
    const field = Math.floor(tag / 8);
    if (field === 0) return false;
    const shape = groups === null || groups.length === 0 ? shapes[field] : undefined;
    const wireType = shape === undefined ? tag % 8 : typeof shape === 'number' ? shape : 2;
    switch (wireType) {
      case 0:
        if (!varint(bytes, at, read)) return false;
        at = read[1];
        break;
      case 1: at += 8; break;
      case 5: at += 4; break;
      case 2: {
        if (!varint(bytes, at, read)) return false;
        const nestedEnd = read[1] + read[0];
        if (nestedEnd > end) return false;
        if (typeof shape === 'object' && !wellFormed(bytes, read[1], nestedEnd, shape)) return false;
        at = nestedEnd;
        break;
      }
      case 3:
        (groups ??= []).push(field);
        break;
      case 4:
        if (groups === null || groups.pop() !== field) return false;
        break;
      default:
        return false;
    }
    if (at > end) return false;
  }
  return groups === null || groups.length === 0;
}

/**
 * Walks the top level of a `WireStatMessages` frame without decoding it: the
 * offsets of each `messages` entry (field 1, length-delimited), skipping
 * unknown fields as protobuf does. Refuses the frame past `maxMessages`
 * before allocating anything for it. Groups (wire types 3 and 4, long
 * deprecated, never sent by an activator) make the frame malformed.
 */
function scanBinaryFrame(bytes: Uint8Array, maxMessages: number): Uint32Array | StatRejection {
  const read: [number, number] = [0, 0];
  const walk = (offsets: Uint32Array | null): number | StatRejection => {
    let count = 0;
    let at = 0;
    while (at < bytes.length) {
      if (!varint(bytes, at, read)) return MALFORMED_FRAME;
      const tag = read[0];
      at = read[1];
      const wireType = tag % 8;
      const field = Math.floor(tag / 8);
      if (field === 0) return MALFORMED_FRAME;
      switch (wireType) {
        case 0:
          if (!varint(bytes, at, read)) return MALFORMED_FRAME;
          at = read[1];
          break;
        case 1: at += 8; break;
        case 5: at += 4; break;
        case 2: {
          if (!varint(bytes, at, read)) return MALFORMED_FRAME;
          const start = read[1];
          const end = start + read[0];
          if (end > bytes.length) return MALFORMED_FRAME;
          if (field === 1) {
            if (offsets) {
              offsets[2 * count] = start;
              offsets[2 * count + 1] = end;
            }
            count++;
            if (count > maxMessages) return { reason: 'too-many-messages', field: 'frame', value: count };
          }
          at = end;
          break;
        }
        default:
          return MALFORMED_FRAME;
      }
      if (at > bytes.length) return MALFORMED_FRAME;
    }
    return count;
  };
  const counted = walk(null);
  if (typeof counted !== 'number') return counted;
  const offsets = new Uint32Array(2 * counted);
  walk(offsets);
  return offsets;
}

/** The whole frame in one protobuf-es call; null if it throws (not expected once every message is well formed). */
function decodeWhole(bytes: Uint8Array): WireStatMessage[] | null {
  try {
    return fromBinary(WireStatMessagesSchema, bytes).messages;
  } catch {
    return null;
  }
}

/**
 * Opens a binary websocket frame holding Knative's `WireStatMessages`. The
 * frame is refused whole when its framing is not protobuf or it holds more
 * than `maxMessagesPerFrame`; otherwise each message decodes on its own, so
 * one bad message does not drop the others.
 */
export function openBinaryFrame(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): PendingFrame | StatRejection {
  const offsets = scanBinaryFrame(bytes, limits.maxMessagesPerFrame);
  if (!(offsets instanceof Uint32Array)) return offsets;
  const count = offsets.length / 2;
  // Checked first, so a malformed message costs no thrown Error (and its stack trace).
  let allWellFormed = true;
  for (let i = 0; i < count && allWellFormed; i++) allWellFormed = wellFormed(bytes, offsets[2 * i], offsets[2 * i + 1], WIRE_STAT_MESSAGE_FIELDS);
  // The usual frame, every message well formed, decodes in one call (one reader, no view per message).
  let whole: WireStatMessage[] | null = null;
  return {
    count,
    decode(index) {
      if (allWellFormed) {
        whole ??= decodeWhole(bytes);
        if (whole !== null && whole.length === count) return fromMessage(whole[index], limits.bounds);
      }
      const start = offsets[2 * index];
      const end = offsets[2 * index + 1];
      if (!allWellFormed && !wellFormed(bytes, start, end, WIRE_STAT_MESSAGE_FIELDS)) return MALFORMED_MESSAGE;
      let message: WireStatMessage;
      try {
        message = fromBinary(WireStatMessageSchema, bytes.subarray(start, end));
      } catch {
        return MALFORMED_MESSAGE; // not expected after wellFormed; kept so no input can throw
      }
      return fromMessage(message, limits.bounds);
    },
  };
}

const MALFORMED_MESSAGE: StatRejection = Object.freeze({ reason: 'malformed', field: 'message' });
const MALFORMED_STAT: StatRejection = Object.freeze({ reason: 'malformed', field: 'stat' });

/** The protobuf JSON mapping of a string field: a string, or null for the default. */
function jsonString(v: unknown): string | undefined {
  if (v === null) return '';
  return typeof v === 'string' ? v : undefined;
}

/**
 * A double in the protobuf JSON mapping, as protobuf-es reads it: a number, a
 * string that Number() reads as a finite number (no surrounding space),
 * "NaN", "Infinity", "-Infinity", or null (0).
 */
function jsonDouble(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v === null) return 0;
  if (typeof v !== 'string') return undefined;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (v === '' || v.trim().length !== v.length) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** What BigInt() reads from a string (protobuf-es parses int64 JSON strings with it): checked first, so nothing throws. */
const BIGINT_TEXT = /^\s*(?:[+-]?\d+|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)?\s*$/;

/** An int64 in the protobuf JSON mapping: an integral number or integer string in range, or null (0). */
function jsonInt64(v: unknown): number | undefined {
  if (v === null) return 0;
  let big: bigint;
  if (typeof v === 'number' && Number.isInteger(v)) big = BigInt(v);
  else if (typeof v === 'string' && v.length > 0 && BIGINT_TEXT.test(v)) big = BigInt(v);
  else return undefined;
  return big >= INT64_MIN && big <= INT64_MAX ? Number(big) : undefined;
}

type DoubleField = 'averageConcurrentRequests' | 'averageProxiedConcurrentRequests' | 'requestCount' | 'proxiedRequestCount' | 'processUptime';
/** Both spellings the protobuf JSON mapping accepts for each Stat field (a Map: no prototype keys). */
const JSON_STAT_FIELDS = new Map<string, DoubleField | 'podName' | 'timestamp'>([
  ['podName', 'podName'], ['pod_name', 'podName'],
  ['averageConcurrentRequests', 'averageConcurrentRequests'], ['average_concurrent_requests', 'averageConcurrentRequests'],
  ['averageProxiedConcurrentRequests', 'averageProxiedConcurrentRequests'],
  ['average_proxied_concurrent_requests', 'averageProxiedConcurrentRequests'],
  ['requestCount', 'requestCount'], ['request_count', 'requestCount'],
  ['proxiedRequestCount', 'proxiedRequestCount'], ['proxied_request_count', 'proxiedRequestCount'],
  ['processUptime', 'processUptime'], ['process_uptime', 'processUptime'],
  ['timestamp', 'timestamp'],
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One `Stat` in the protobuf JSON mapping (either field spelling; unknown fields refused, as protobuf's parser does). */
function statFromJson(raw: unknown, bounds: StatBounds): Stat | StatRejection {
  if (!isObject(raw)) return MALFORMED_STAT;
  const stat = emptyStat('');
  let timestamp = 0;
  const seen = new Set<string>();
  for (const name in raw) {
    const field = JSON_STAT_FIELDS.get(name);
    // A field given twice (as pod_name and podName) is an error, as in protobuf's parser.
    if (field === undefined || seen.has(field)) return MALFORMED_STAT;
    seen.add(field);
    const v = raw[name];
    if (field === 'podName') {
      const text = jsonString(v);
      if (text === undefined) return MALFORMED_STAT;
      stat.podName = text;
    } else if (field === 'timestamp') {
      const t = jsonInt64(v);
      if (t === undefined) return MALFORMED_STAT;
      timestamp = t;
    } else {
      const n = jsonDouble(v);
      if (n === undefined) return MALFORMED_STAT;
      stat[field] = n;
    }
  }
  const rejected = checkStat(stat, bounds);
  if (rejected) return rejected;
  if (timestamp !== 0) stat.timestamp = timestamp;
  return stat;
}

function messageFromJson(raw: unknown, bounds: StatBounds): RevisionStat | StatRejection {
  if (!isObject(raw)) return MALFORMED_MESSAGE;
  let namespace = '';
  let name = '';
  let statJson: unknown = null;
  for (const field in raw) {
    const v = raw[field];
    if (field === 'namespace' || field === 'name') {
      const text = jsonString(v);
      if (text === undefined) return MALFORMED_MESSAGE;
      if (field === 'namespace') namespace = text;
      else name = text;
    } else if (field === 'stat') {
      statJson = v;
    } else {
      return MALFORMED_MESSAGE;
    }
  }
  if (namespace === '') return MISSING_NAMESPACE;
  if (name === '') return MISSING_NAME;
  if (statJson === null) return MISSING_STAT;
  const stat = statFromJson(statJson, bounds);
  return 'reason' in stat ? stat : { key: { namespace, name }, stat };
}

/**
 * Opens a text frame: the same `WireStatMessages` in the protobuf JSON
 * mapping, e.g. `{"messages":[{"namespace":"default","name":"hello-00001",
 * "stat":{"podName":"activator-1","averageConcurrentRequests":3.5,"requestCount":7}}]}`.
 * Parsing a text frame under the frame size limit is bounded work; each
 * message is then checked on its own.
 */
export function openJsonFrame(text: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): PendingFrame | StatRejection {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return MALFORMED_FRAME;
  }
  if (!isObject(parsed) || !Array.isArray(parsed.messages)) return MALFORMED_FRAME;
  const messages: unknown[] = parsed.messages;
  if (messages.length > limits.maxMessagesPerFrame) return { reason: 'too-many-messages', field: 'frame', value: messages.length };
  return { count: messages.length, decode: (index) => messageFromJson(messages[index], limits.bounds) };
}

function toWireStat(stat: Stat): WireStat {
  return create(StatSchema, {
    podName: stat.podName,
    averageConcurrentRequests: stat.averageConcurrentRequests,
    averageProxiedConcurrentRequests: stat.averageProxiedConcurrentRequests,
    requestCount: stat.requestCount,
    proxiedRequestCount: stat.proxiedRequestCount,
    processUptime: stat.processUptime,
    timestamp: BigInt(Math.trunc(stat.timestamp ?? 0)),
  });
}

function toWireMessages(stats: readonly RevisionStat[]) {
  return create(WireStatMessagesSchema, {
    messages: stats.map(({ key, stat }) => create(WireStatMessageSchema, { namespace: key.namespace, name: key.name, stat: toWireStat(stat) })),
  });
}

/** The binary frame an activator sends. */
export function encodeBinaryFrame(stats: readonly RevisionStat[]): Uint8Array {
  return toBinary(WireStatMessagesSchema, toWireMessages(stats));
}

/** The JSON text frame equivalent. */
export function encodeJsonFrame(stats: readonly RevisionStat[]): string {
  return toJsonString(WireStatMessagesSchema, toWireMessages(stats));
}

/** A single Stat as queue-proxy serves it for `Accept: application/protobuf`. */
export function encodeStat(stat: Stat): Uint8Array {
  return toBinary(StatSchema, toWireStat(stat));
}

/** A queue-proxy's protobuf Stat, checked against `bounds`. */
export function decodeStat(bytes: Uint8Array, bounds: StatBounds = DEFAULT_STAT_BOUNDS): Stat | StatRejection {
  let wire: WireStat;
  try {
    wire = fromBinary(StatSchema, bytes);
  } catch {
    return MALFORMED_STAT;
  }
  return statFromWire(wire, bounds);
}
