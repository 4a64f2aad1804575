import { describe, expect, it } from '@jest/globals';
import { InvalidEventIdError, parseEventId } from './session-message-log.js';
import { isSessionIdShape, newSessionId } from './session-record.js';

describe('parseEventId', () => {
  it.each([
    ['get_1732400000000-0', 'get', '1732400000000-0'],
    ['sse_1-42', 'sse', '1-42'],
    ['post_7f3a_1732400000000-3', 'post_7f3a', '1732400000000-3'], // the last underscore separates
    ['a.b-c_0-0', 'a.b-c', '0-0'],
  ])('%s -> stream %s at %s', (eventId, streamId, position) => {
    expect(parseEventId(eventId)).toEqual({ streamId, position });
  });

  it.each([
    ['empty', ''],
    ['no separator', '1732400000000-0'],
    ['no stream', '_1-0'],
    ['no position', 'get_'],
    ['position without sequence', 'get_1732400000000'],
    ['letters in position', 'get_abc-0'],
    ['negative', 'get_-1-0'],
    ['trailing newline', 'get_1-0\n'],
    ['space in stream', 'g et_1-0'],
    ['colon in stream', 'a:b_1-0'],
    ['too long a stream', `${'x'.repeat(65)}_1-0`],
    ['too long a position', `get_${'9'.repeat(16)}-0`],
  ])('rejects %s', (_label, eventId) => {
    expect(() => parseEventId(eventId)).toThrow(InvalidEventIdError);
  });

  it('names the bad id (truncated) in the message', () => {
    expect(() => parseEventId('nope')).toThrow('invalid event id "nope"');
    expect(() => parseEventId('z'.repeat(500))).toThrow(/"z{80}…"/);
  });
});

describe('newSessionId', () => {
  it('is 32 random hex characters and passes the shape check', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newSessionId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(isSessionIdShape(id)).toBe(true);
    }
  });

  it.each([[''], ['has space'], ['a:b'], ['x'.repeat(129)], [42], [null]])('shape check refuses %p', (id) => {
    expect(isSessionIdShape(id)).toBe(false);
  });
});
