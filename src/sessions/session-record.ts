import { randomBytes } from 'node:crypto';

/**
 * What the gateway remembers about one 2025-era MCP session (Streamable HTTP, legacy SSE or
 * WebSocket) between requests. It lives in the SessionStore, not in a worker, so any worker or
 * pod can serve any request of the session. Plain JSON: it is stored as a JSON string.
 */
export interface SessionRecord {
  /** Opaque, 32 random hex characters (visible ASCII, as the spec requires of `Mcp-Session-Id`). */
  id: string;
  transport: 'streamable-http' | 'sse' | 'ws';
  /** The negotiated protocol version, e.g. '2025-11-25'. */
  protocolVersion: string;
  clientInfo: { name: string; version: string; [k: string]: unknown } | null;
  clientCapabilities: Record<string, unknown>;
  /** Virtual server scope; null = the whole catalog. */
  serverId: string | null;
  /** From logging/setLevel; null = not set. */
  logLevel: string | null;
  /** Resource URIs from resources/subscribe. */
  subscriptions: string[];
  /** The authenticated principal that created the session. */
  username: string;
  /** Epoch ms. */
  createdAt: number;
  /** Whether notifications/initialized was received. */
  initialized: boolean;
}

/** The fields an update may change: identity and ownership are fixed at creation. */
export type SessionPatch = Partial<Omit<SessionRecord, 'id' | 'createdAt' | 'username'>>;

/** A new session id: 128 random bits as 32 lowercase hex characters. */
export const newSessionId = (): string => randomBytes(16).toString('hex');

/**
 * Whether `id` could be one of our session ids: 1 to 128 of `[A-Za-z0-9_-]` (newSessionId makes
 * 32 hex characters; the rest is room for another generator). Anything else (a space, a control
 * character, a megabyte header) is a 404 without a lookup. Excluding ':' keeps an id from ever
 * naming another key: `session:<id>` can't be made to reach `session:<other>:streams`.
 */
export const isSessionIdShape = (id: unknown): id is string => typeof id === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(id);

/** Throws a TypeError unless `id` passes isSessionIdShape (for ids we are about to store under). */
export function assertSessionIdShape(id: unknown): asserts id is string {
  if (!isSessionIdShape(id)) throw new TypeError(`session id must be 1 to 128 of [A-Za-z0-9_-], got ${JSON.stringify(String(id).slice(0, 40))}`);
}
