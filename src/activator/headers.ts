/**
 * Hop-by-hop headers (RFC 9110 §7.6.1, plus the de-facto Proxy-Connection
 * and Keep-Alive): they describe one connection, so a proxy never forwards
 * them. `Expect` goes too: the activator's own server already answered
 * `100-continue`.
 */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect',
]);

/** Forwarding headers the activator sets itself from what came in. */
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/** The extra header names a Connection header lists, beyond keep-alive/close (which are hop-by-hop anyway). */
function connectionTokens(value: string | undefined): Set<string> | null {
  if (value === undefined) return null;
  let tokens: Set<string> | null = null;
  for (const raw of value.split(',')) {
    const t = raw.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive' || t === 'upgrade') continue;
    (tokens ??= new Set()).add(t);
  }
  return tokens;
}

/** The client address as X-Forwarded-For writes it (no IPv4-mapped IPv6 prefix). */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return 'unknown';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}

export interface ForwardedFor {
  /** The client's address, appended to X-Forwarded-For. */
  client: string;
  /** The Host header as received, the default X-Forwarded-Host. */
  host: string;
}

/**
 * The request headers to send upstream, as a flat [name, value, …] list
 * from the raw headers (original case and order): hop-by-hop headers and
 * those the Connection header names are removed; X-Forwarded-For gets the
 * client appended; X-Forwarded-Proto and X-Forwarded-Host are kept when an
 * Ingress in front already set them (it knows the original scheme and
 * host), else set from this hop. With `upgrade`, Connection: Upgrade and the
 * Upgrade header are kept, as a websocket handshake needs them.
 */
export function upstreamRequestHeaders(raw: readonly string[], connection: string | undefined, fwd: ForwardedFor, upgrade?: string): string[] {
  const listed = connectionTokens(connection);
  const out: string[] = [];
  let xff: string | undefined;
  let proto: string | undefined;
  let xfHost: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    if (FORWARDED.has(lower)) {
      const v = raw[i + 1];
      if (lower === 'x-forwarded-for') xff = xff === undefined ? v : `${xff}, ${v}`;
      else if (lower === 'x-forwarded-proto') proto ??= v;
      else xfHost ??= v;
      continue;
    }
    out.push(name, raw[i + 1]);
  }
  out.push('X-Forwarded-For', xff === undefined ? fwd.client : `${xff}, ${fwd.client}`);
  out.push('X-Forwarded-Proto', proto ?? 'http');
  out.push('X-Forwarded-Host', xfHost ?? fwd.host);
  if (upgrade !== undefined) out.push('Connection', 'Upgrade', 'Upgrade', upgrade);
  return out;
}

/** Response headers to send to the client (flat list), hop-by-hop ones removed; undici hands them over as bytes. */
export function clientResponseHeaders(raw: readonly Buffer[]): string[] {
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 10 && raw[i].toString('latin1').toLowerCase() === 'connection') connection = raw[i + 1].toString('latin1');
  }
  const listed = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(name, raw[i + 1].toString('latin1'));
  }
  return out;
}
