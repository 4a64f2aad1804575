import { ConsoleLogger, type LogLevel as NestLogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppModule } from '#app/app.module.js';
import { AuthGuard } from '#app/auth/auth.guard.js';
import { AllExceptionsFilter, toErrorBody } from '#app/common/all-exceptions.filter.js';
import type { AppConfig, LogLevel } from '#app/config/app-config.js';
import { HttpHost, addCorrelationIdHook, correlationOptions } from './http-host.js';

const NEST_LEVELS: Record<LogLevel, NestLogLevel[]> = {
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  info: ['fatal', 'error', 'warn', 'log'],
  warn: ['fatal', 'error', 'warn'],
  error: ['fatal', 'error'],
};

/**
 * Builds the Fastify-backed Nest application with everything `main.ts` and the tests share:
 * body limit (413), correlation ids, the global error filter, and the OpenAPI docs behind auth.
 * The HTTP server is the HttpHost's, so the MCP transports can take their paths off it.
 */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const host = new HttpHost();
  const adapter = new FastifyAdapter({
    serverFactory: host.serverFactory,
    bodyLimit: config.server.maxBodyBytes,
    requestTimeout: config.server.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    trustProxy: true,
    // Reuse a caller's correlation id when it is sane, so logs join up across services.
    ...correlationOptions,
    // No Nest middleware is used; middie would add a hook to every request.
    skipMiddie: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, host), adapter, {
    logger: new ConsoleLogger({ logLevels: NEST_LEVELS[config.server.logLevel], colors: Boolean(process.stdout.isTTY) }),
    abortOnError: false,
    // We register the JSON parser ourselves (below); Nest's would replace it at listen time.
    bodyParser: false,
  });
  app.useGlobalFilters(new AllExceptionsFilter());

  const fastify = app.getHttpAdapter().getInstance();
  // Fastify's JSON parser (with its prototype-poisoning protection), except that an empty body
  // is "no body": clients often send Content-Type: application/json on DELETE or state changes.
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, done);
  });
  addCorrelationIdHook(fastify);

  // Swagger's routes live outside Nest's guards; put them behind the same auth.
  const guard = app.get(AuthGuard);
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    const path = request.url.split('?', 1)[0];
    if (path !== '/openapi.json' && path !== '/openapi.yaml' && path !== '/docs' && !path.startsWith('/docs/')) return done();
    try {
      guard.authenticate(request.headers.authorization);
      done();
    } catch (error) {
      const body = toErrorBody(error, String(request.id));
      void reply.status(401).header('WWW-Authenticate', 'Basic realm="mcp-gateway"').send(body);
    }
  });
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('MCP Gateway')
      .setDescription('Catalog and admin API of the MCP Gateway.')
      .setVersion('0.1.0')
      .addBearerAuth()
      .addBasicAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });
  return app;
}
