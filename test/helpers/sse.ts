import http from 'node:http';

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Opens an event stream (GET, or POST when `body` is given) and collects its events until
 * `close()`; `waitFor` resolves when an event matching the predicate has arrived (or rejects
 * after the timeout).
 */
export function openSse(url: string, headers: Record<string, string>, body?: unknown) {
  const events: SseEvent[] = [];
  const waiters: Array<{ match: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }> = [];
  let req: http.ClientRequest;
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const requestHeaders = { accept: 'text/event-stream', ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) };
    req = http.request(url, { method: payload ? 'POST' : 'GET', headers: requestHeaders, agent: false }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event: SseEvent = { data: '' };
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) continue;
            const [field, ...rest] = line.split(':');
            const value = rest.join(':').replace(/^ /, '');
            if (field === 'id') event.id = value;
            else if (field === 'event') event.event = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length === 0 && !event.id) continue;
          event.data = data.join('\n');
          events.push(event);
          for (const w of [...waiters]) {
            if (w.match(event)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(event);
            }
          }
        }
      });
      resolve(res);
    });
    req.on('error', reject);
    req.end(payload);
  });
  return {
    response,
    events,
    waitFor(match: (e: SseEvent) => boolean, timeoutMs = 3000): Promise<SseEvent> {
      const found = events.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching SSE event within ${timeoutMs} ms; got ${JSON.stringify(events)}`)), timeoutMs);
        waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    close: () => req.destroy(),
  };
}
