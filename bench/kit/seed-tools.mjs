#!/usr/bin/env node
/**
 * Creates the REST tools the load-test kit calls, through the admin API (`POST /tools`).
 * Idempotent: a tool that already exists (409) counts as created.
 *
 *   - `kit_echo`: the tool that payloads/tools-call.json and k6-staged.js call. GET to
 *     `--rest-url` (default: the gateway's own open `/health`, so no other server is needed).
 *   - `--count N` more tools, `kit_tool_00` … (default 0), to make `tools/list` answers bigger.
 *
 *   URL=http://127.0.0.1:4444 TOKEN=… node bench/kit/seed-tools.mjs [--count 20] [--rest-url URL]
 *
 * Without TOKEN it signs one with JWT_SECRET_KEY (default `my-test-key`, the gateway's default).
 * bench/kit/scale-out.mjs imports `seedTools` from here.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';

export const ECHO_TOOL = 'kit_echo';

const toolBody = (name, url, description) => ({
  name,
  url,
  description,
  request_type: 'GET',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' }, units: { type: 'string', enum: ['metric', 'imperial'] } },
    required: ['city'],
  },
});

/**
 * Creates `kit_echo` and `count` more tools calling `restUrl`; returns their names.
 * @param {{ baseUrl: string, auth: string, restUrl?: string, count?: number }} options
 */
export async function seedTools({ baseUrl, auth, restUrl = `${baseUrl}/health`, count = 0 }) {
  const tools = [toolBody(ECHO_TOOL, restUrl, 'Load-test kit: a REST tool answered at once')];
  for (let i = 0; i < count; i++) {
    tools.push(toolBody(`kit_tool_${String(i).padStart(2, '0')}`, restUrl, `Load-test kit tool number ${i}: returns the weather for a city`));
  }
  for (const tool of tools) {
    const res = await fetch(`${baseUrl}/tools`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(tool),
    });
    if (res.status !== 201 && res.status !== 409) throw new Error(`POST /tools ${tool.name}: ${res.status} ${await res.text()}`);
  }
  return tools.map((t) => t.name);
}

async function main() {
  const { values } = parseArgs({
    options: { count: { type: 'string', default: '0' }, 'rest-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('usage: URL=http://127.0.0.1:4444 TOKEN=<jwt> node bench/kit/seed-tools.mjs [--count N] [--rest-url URL]\n');
    return;
  }
  const baseUrl = (process.env.URL ?? 'http://127.0.0.1:4444').replace(/\/+$/, '');
  const token = process.env.TOKEN || jwt.sign({ sub: 'admin@example.com', username: 'admin@example.com' }, process.env.JWT_SECRET_KEY || 'my-test-key', { algorithm: 'HS256', expiresIn: 600 });
  const names = await seedTools({ baseUrl, auth: `Bearer ${token}`, restUrl: values['rest-url'], count: Number(values.count) });
  process.stdout.write(`seeded ${names.length} tool(s) on ${baseUrl}: ${names.join(', ')}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    process.stderr.write(`seed-tools: ${error.message ?? error}\n`);
    process.exitCode = 1;
  });
}
