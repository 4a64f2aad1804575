/**
 * Staged k6 load test of the gateway: the k6 scenario of ContextForge's scaling guide (ramp up,
 * steady, spike, steady, ramp down; p99 < 500 ms; < 1% failed), adapted to this gateway's
 * endpoints. Each iteration of each virtual user (VU):
 *   - GET  /health (open)
 *   - POST /rpc   tools/list, then tools/call of a REST tool (kit_echo, created by setup())
 *   - POST /mcp   in a 2025-11-25 Streamable HTTP session: initialize -> Mcp-Session-Id ->
 *                 notifications/initialized (once per VU, renewed every SESSION_ITERATIONS
 *                 iterations with a DELETE), then tools/list with the session headers
 *   - POST /mcp   stateless 2026-07-28: server/discover (once per VU), tools/list, tools/call,
 *                 each with params._meta and the MCP-Protocol-Version / Mcp-Method headers
 *
 *   k6 run bench/kit/k6-staged.js                              # the guide's 16-minute profile
 *   k6 run -e PROFILE=smoke -e BASE_URL=http://127.0.0.1:4444 bench/kit/k6-staged.js
 *   k6 run -e STAGES='[{"duration":"30s","target":50},{"duration":"30s","target":0}]' bench/kit/k6-staged.js
 *
 * Variables (-e NAME=value): BASE_URL (http://127.0.0.1:4444), TOKEN (else an HS256 JWT is
 * signed here with JWT_SECRET_KEY, default my-test-key), PROFILE (seed | smoke), STAGES (JSON,
 * overrides PROFILE), TOOL (kit_echo), REST_URL (what kit_echo calls; default the gateway's own
 * /health), SESSION_ITERATIONS (100), THINK_TIME (seconds between iterations, 0).
 * Without k6, `node bench/kit/k6-smoke.mjs` runs setup() and one iteration in Node.
 */
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:4444').replace(/\/+$/, '');
const TOOL = __ENV.TOOL || 'kit_echo';
const REST_URL = __ENV.REST_URL || `${BASE_URL}/health`;
const SESSION_ITERATIONS = Number(__ENV.SESSION_ITERATIONS || 100);
const THINK_TIME = Number(__ENV.THINK_TIME || 0);
const LEGACY_VERSION = '2025-11-25';
const MODERN_VERSION = '2026-07-28';
const CLIENT_INFO = { name: 'k6-staged', version: '1.0.0' };

const PROFILES = {
  // ContextForge's guide: ramp up, sustained, spike, high load, ramp down (16 minutes).
  seed: [
    { duration: '2m', target: 100 },
    { duration: '5m', target: 100 },
    { duration: '2m', target: 500 },
    { duration: '5m', target: 500 },
    { duration: '2m', target: 0 },
  ],
  // A short run to see the script work end to end.
  smoke: [
    { duration: '10s', target: 10 },
    { duration: '20s', target: 10 },
    { duration: '10s', target: 0 },
  ],
};

const ENDPOINTS = ['health', 'rpc_tools_list', 'rpc_tools_call', 'mcp_session_tools_list', 'mcp_2026_tools_list', 'mcp_2026_tools_call'];

const PROFILE = __ENV.PROFILE || 'seed';
if (!__ENV.STAGES && !PROFILES[PROFILE]) throw new Error(`unknown PROFILE "${PROFILE}" (seed, smoke; or set STAGES)`);

export const options = {
  stages: __ENV.STAGES ? JSON.parse(__ENV.STAGES) : PROFILES[PROFILE],
  thresholds: {
    http_req_duration: ['p(99)<500'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // One line per endpoint in the summary (a threshold on a tagged sub-metric shows it).
    ...Object.fromEntries(ENDPOINTS.map((e) => [`http_req_duration{endpoint:${e}}`, ['p(99)<500']])),
  },
};

function base64url(text) {
  return encoding.b64encode(text, 'rawurl');
}

/** An HS256 JWT, as `npm run token` makes, so a run needs no token from outside. */
function signToken(secret, username) {
  const now = Math.floor(Date.now() / 1000);
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify({ sub: username, username, iat: now, exp: now + 24 * 3600 }));
  return `${head}.${body}.${crypto.hmac('sha256', secret, `${head}.${body}`, 'base64rawurl')}`;
}

const TOKEN = __ENV.TOKEN || signToken(__ENV.JWT_SECRET_KEY || 'my-test-key', __ENV.TOKEN_USER || 'admin@example.com');
const JSON_HEADERS = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
const MCP_HEADERS = { ...JSON_HEADERS, Accept: 'application/json, text/event-stream' };
const META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
};

let nextId = 1;

function post(path, message, headers, endpoint) {
  return http.post(`${BASE_URL}${path}`, JSON.stringify(message), { headers, tags: { endpoint } });
}

function request(method, params) {
  return { jsonrpc: '2.0', id: nextId++, method, params };
}

/** The parsed JSON-RPC `result`, or undefined (an error, or not JSON). */
function resultOf(res) {
  try {
    return res.json().result;
  } catch (_) {
    return undefined;
  }
}

function header(res, name) {
  const key = Object.keys(res.headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : res.headers[key];
}

const hasTools = (res) => res.status === 200 && Array.isArray((resultOf(res) || {}).tools);
const callSucceeded = (res) => {
  const result = resultOf(res);
  return res.status === 200 && result !== undefined && Array.isArray(result.content) && result.isError !== true;
};

export function setup() {
  const health = http.get(`${BASE_URL}/health`);
  if (health.status !== 200) throw new Error(`GET ${BASE_URL}/health answered ${health.status}: is the gateway up?`);
  const created = http.post(
    `${BASE_URL}/tools`,
    JSON.stringify({
      name: TOOL,
      url: REST_URL,
      description: 'Load-test kit: a REST tool answered at once',
      request_type: 'GET',
      input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    }),
    { headers: JSON_HEADERS },
  );
  // 409: it exists already (seed-tools.mjs, an earlier run).
  if (created.status !== 201 && created.status !== 409) throw new Error(`POST /tools answered ${created.status}: ${created.body}`);
  const call = post('/rpc', request('tools/call', { name: TOOL, arguments: { city: 'Berlin' } }), JSON_HEADERS, 'setup');
  if (!callSucceeded(call)) throw new Error(`tools/call ${TOOL} did not succeed: ${call.status} ${call.body}`);
  return {};
}

// Per VU: the 2025-11-25 session and whether server/discover has been called.
let session = null;
let discovered = false;

function sessionHeaders(id) {
  return { ...MCP_HEADERS, 'Mcp-Session-Id': id, 'MCP-Protocol-Version': LEGACY_VERSION };
}

function openSession() {
  const init = post('/mcp', request('initialize', { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: CLIENT_INFO }), MCP_HEADERS, 'mcp_initialize');
  const id = header(init, 'Mcp-Session-Id');
  check(init, {
    'initialize: 200 with Mcp-Session-Id': (r) => r.status === 200 && Boolean(id),
    'initialize: negotiated 2025-11-25': (r) => (resultOf(r) || {}).protocolVersion === LEGACY_VERSION,
  });
  if (!id) return null;
  const initialized = post('/mcp', { jsonrpc: '2.0', method: 'notifications/initialized' }, sessionHeaders(id), 'mcp_initialized');
  check(initialized, { 'notifications/initialized: 202': (r) => r.status === 202 });
  return { id, iterations: 0 };
}

function closeSession(current) {
  const res = http.del(`${BASE_URL}/mcp`, null, { headers: sessionHeaders(current.id), tags: { endpoint: 'mcp_delete' } });
  check(res, { 'DELETE /mcp: session ended': (r) => r.status === 200 || r.status === 204 });
}

function modern(method, params, endpoint, name) {
  const headers = { ...MCP_HEADERS, 'MCP-Protocol-Version': MODERN_VERSION, 'Mcp-Method': method };
  if (name) headers['Mcp-Name'] = name;
  return post('/mcp', request(method, { ...params, _meta: META }), headers, endpoint);
}

export default function () {
  group('GET /health', () => {
    const res = http.get(`${BASE_URL}/health`, { tags: { endpoint: 'health' } });
    check(res, { 'health: 200': (r) => r.status === 200 });
  });

  group('POST /rpc', () => {
    const list = post('/rpc', request('tools/list', {}), JSON_HEADERS, 'rpc_tools_list');
    check(list, { 'rpc tools/list: tools': hasTools });
    const call = post('/rpc', request('tools/call', { name: TOOL, arguments: { city: 'Berlin' } }), JSON_HEADERS, 'rpc_tools_call');
    check(call, { 'rpc tools/call: content, no error': callSucceeded });
  });

  group('POST /mcp, 2025-11-25 session', () => {
    if (session && session.iterations >= SESSION_ITERATIONS) {
      closeSession(session);
      session = null;
    }
    if (!session) session = openSession();
    if (!session) return;
    session.iterations++;
    const list = post('/mcp', request('tools/list', {}), sessionHeaders(session.id), 'mcp_session_tools_list');
    check(list, { 'session tools/list: tools': hasTools });
    // 404: the session expired (SESSION_TTL) or its worker's state was lost; start a new one.
    if (list.status === 404) session = null;
  });

  group('POST /mcp, 2026-07-28 stateless', () => {
    if (!discovered) {
      const discover = modern('server/discover', {}, 'mcp_2026_discover');
      check(discover, { 'server/discover: offers 2026-07-28': (r) => ((resultOf(r) || {}).supportedVersions || []).includes(MODERN_VERSION) });
      discovered = true;
    }
    const list = modern('tools/list', {}, 'mcp_2026_tools_list');
    check(list, { '2026 tools/list: tools, resultType': (r) => hasTools(r) && resultOf(r).resultType === 'complete' });
    const call = modern('tools/call', { name: TOOL, arguments: { city: 'Berlin' } }, 'mcp_2026_tools_call', TOOL);
    check(call, { '2026 tools/call: content, no error': callSucceeded });
  });

  if (THINK_TIME > 0) sleep(THINK_TIME);
}
