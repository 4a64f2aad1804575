/**
 * The benchmark's baseline: bare Fastify answering the gateway's own tools/list result with the
 * caller's JSON-RPC id, with no auth, no dispatcher and no framework. PAYLOAD is the result JSON.
 */
import Fastify from 'fastify';

const payload = process.env.PAYLOAD ?? '{"tools":[]}';
const app = Fastify({ logger: false });
app.get('/health', async () => ({ status: 'ok' }));
app.post('/rpc', async (request, reply) => {
  const id = JSON.stringify(request.body?.id ?? null);
  reply.type('application/json; charset=utf-8').send(`{"jsonrpc":"2.0","id":${id},"result":${payload}}`);
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
