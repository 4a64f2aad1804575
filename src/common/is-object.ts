/** A plain JSON object: not null, not an array. Narrows parsed JSON-RPC messages and params. */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
