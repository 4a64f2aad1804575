import { randomUUID } from 'node:crypto';

/** A new catalog id: a UUID v4 as 32 hex characters, the seed system's id format. */
export const newId = (): string => randomUUID().replaceAll('-', '');
