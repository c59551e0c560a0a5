import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../clock.js';

/**
 * The shared secret of the stats websocket (`--stats-token-file`): without
 * it anyone who can reach kpa's stats port can push stats and scale an
 * autoscaled Deployment up to its max-scale. Knative's stat server has no
 * such check; kpa has none either unless a token file is given.
 *
 * The file holds one token per line. kpa accepts any of them and the
 * activator sends the first, so a token is rotated without refusing anyone:
 * add the new one as a second line, roll the activators with it first, then
 * drop the old one. A mounted Secret changes in place, so the file is read
 * again when its modification time changes, looked at no more than every
 * `recheckSeconds`.
 */
export class StatsTokenFile {
  private tokens: Buffer[];
  private first: string;
  private mtimeMs: number;
  private checkedAt: number;

  /** Throws a StatsTokenError naming the file when it cannot be used. */
  constructor(readonly path: string, private readonly clock: Clock, private readonly recheckSeconds = 10) {
    const { tokens, first, mtimeMs } = StatsTokenFile.read(path);
    this.tokens = tokens;
    this.first = first;
    this.mtimeMs = mtimeMs;
    this.checkedAt = clock.now();
  }

  /** Reads and checks the file: a missing, unreadable or empty file is a StatsTokenError. */
  private static read(path: string): { tokens: Buffer[]; first: string; mtimeMs: number } {
    let text: string;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new StatsTokenError(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    if (lines.length === 0) throw new StatsTokenError(path, 'the file holds no token');
    const bad = lines.find((l) => !/^[\x21-\x7e]+$/.test(l));
    if (bad !== undefined) throw new StatsTokenError(path, 'a token must be printable ASCII without spaces (it is sent in an HTTP header)');
    return { tokens: lines.map(digest), first: lines[0], mtimeMs };
  }

  /** Re-reads a changed file; keeps the tokens it has when the new file is unusable (a Secret mid-update). */
  private refresh(): void {
    const now = this.clock.now();
    if (now - this.checkedAt < this.recheckSeconds) return;
    this.checkedAt = now;
    try {
      if (statSync(this.path).mtimeMs === this.mtimeMs) return;
      const { tokens, first, mtimeMs } = StatsTokenFile.read(this.path);
      this.tokens = tokens;
      this.first = first;
      this.mtimeMs = mtimeMs;
    } catch {
      // Keep serving with the tokens read last.
    }
  }

  /** Whether an upgrade request carries `Authorization: Bearer <one of the tokens>`, compared in constant time. */
  accepts(req: Pick<IncomingMessage, 'headers'>): boolean {
    this.refresh();
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const offered = digest(m[1]);
    let ok = false;
    for (const token of this.tokens) ok = timingSafeEqual(offered, token) || ok;
    return ok;
  }

  /** What the activator sends on each connect: the file's first token, as of now. */
  header(): Record<string, string> {
    this.refresh();
    return { authorization: `Bearer ${this.first}` };
  }
}

/** Hashing first gives timingSafeEqual equal lengths and hides the token's length. */
const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/** A token file that cannot be used, naming the file and why. */
export class StatsTokenError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`--stats-token-file ${path}: ${reason}`);
    this.name = 'StatsTokenError';
  }
}
