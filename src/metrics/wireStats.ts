import { create, fromBinary, fromJsonString, toBinary, toJsonString } from '@bufbuild/protobuf';
import {
  type Stat as WireStat, StatSchema, type WireStatMessage, WireStatMessageSchema, WireStatMessagesSchema,
} from './gen/stat_pb.js';
import type { RevisionKey } from './revisionKey.js';
import { type Stat, STAT_NUMBER_FIELDS } from './stat.js';

/** One stat for one revision, as the activator sends it. */
export interface RevisionStat {
  key: RevisionKey;
  stat: Stat;
}

/** A frame or message that is not a valid stat; `field` names what was wrong. */
export class StatDecodeError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'StatDecodeError';
  }
}

/** What one frame held: the valid stats, and why each invalid message was dropped. */
export interface DecodedFrame {
  stats: RevisionStat[];
  rejected: StatDecodeError[];
}

/** A Knative protobuf Stat as ours, validated: every number finite and ≥ 0. */
export function statFromWire(wire: WireStat, where = 'stat'): Stat {
  const stat: Stat = {
    podName: wire.podName,
    averageConcurrentRequests: wire.averageConcurrentRequests,
    averageProxiedConcurrentRequests: wire.averageProxiedConcurrentRequests,
    requestCount: wire.requestCount,
    proxiedRequestCount: wire.proxiedRequestCount,
    processUptime: wire.processUptime,
  };
  for (const field of STAT_NUMBER_FIELDS) {
    const v = stat[field];
    if (!Number.isFinite(v) || v < 0) {
      throw new StatDecodeError(`${where}.${field}`, `${where}.${field} must be a finite number ≥ 0, got ${v}`);
    }
  }
  if (wire.timestamp !== 0n) stat.timestamp = Number(wire.timestamp);
  return stat;
}

function fromMessage(m: WireStatMessage, index: number): RevisionStat {
  const where = `messages[${index}]`;
  if (m.namespace === '') throw new StatDecodeError(`${where}.namespace`, `${where}.namespace is missing`);
  if (m.name === '') throw new StatDecodeError(`${where}.name`, `${where}.name is missing`);
  if (!m.stat) throw new StatDecodeError(`${where}.stat`, `${where}.stat is missing`);
  return { key: { namespace: m.namespace, name: m.name }, stat: statFromWire(m.stat, `${where}.stat`) };
}

function collect(messages: readonly WireStatMessage[]): DecodedFrame {
  const frame: DecodedFrame = { stats: [], rejected: [] };
  messages.forEach((m, i) => {
    try {
      frame.stats.push(fromMessage(m, i));
    } catch (err) {
      if (!(err instanceof StatDecodeError)) throw err;
      frame.rejected.push(err);
    }
  });
  return frame;
}

/**
 * Decodes a binary websocket frame holding Knative's `WireStatMessages`.
 * Throws StatDecodeError when the frame is not valid protobuf; invalid
 * messages inside a valid frame are returned in `rejected`, the rest kept.
 */
export function decodeBinaryFrame(bytes: Uint8Array): DecodedFrame {
  let decoded;
  try {
    decoded = fromBinary(WireStatMessagesSchema, bytes);
  } catch (err) {
    throw new StatDecodeError('frame', `not a WireStatMessages protobuf: ${(err as Error).message}`);
  }
  return collect(decoded.messages);
}

/**
 * Decodes a text frame: the same `WireStatMessages` in the protobuf JSON
 * mapping, e.g. `{"messages":[{"namespace":"default","name":"hello-00001",
 * "stat":{"podName":"activator-1","averageConcurrentRequests":3.5,"requestCount":7}}]}`.
 * Each message is checked on its own, so one bad message does not drop the frame.
 */
export function decodeJsonFrame(text: string): DecodedFrame {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new StatDecodeError('frame', `not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { messages?: unknown }).messages)) {
    throw new StatDecodeError('messages', 'a JSON frame must be an object with a "messages" array');
  }
  const frame: DecodedFrame = { stats: [], rejected: [] };
  (parsed as { messages: unknown[] }).messages.forEach((raw, i) => {
    try {
      let message: WireStatMessage;
      try {
        message = fromJsonString(WireStatMessageSchema, JSON.stringify(raw));
      } catch (err) {
        throw new StatDecodeError(`messages[${i}]`, `messages[${i}]: ${(err as Error).message}`);
      }
      frame.stats.push(fromMessage(message, i));
    } catch (err) {
      if (!(err instanceof StatDecodeError)) throw err;
      frame.rejected.push(err);
    }
  });
  return frame;
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

export function decodeStat(bytes: Uint8Array): Stat {
  let wire: WireStat;
  try {
    wire = fromBinary(StatSchema, bytes);
  } catch (err) {
    throw new StatDecodeError('stat', `not a Stat protobuf: ${(err as Error).message}`);
  }
  return statFromWire(wire);
}
