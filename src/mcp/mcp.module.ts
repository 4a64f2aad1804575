import { Inject, Module, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import Fastify, { type FastifyInstance } from 'fastify';
import { AuthGuard } from '#app/auth/auth.guard.js';
import { MessageBus } from '#app/cache/message-bus.js';
import { CatalogSnapshotModule } from '#app/catalog/catalog-snapshot.module.js';
import { CatalogSnapshotService } from '#app/catalog/catalog-snapshot.service.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG, HTTP_HOST } from '#app/config/config.module.js';
import { FederationModule } from '#app/federation/federation.module.js';
import { FederatedCalls } from '#app/federation/federated-calls.js';
import { FEDERATED_RESOURCE_UPDATED } from '#app/federation/upstream-notifications.js';
import { MetricsModule } from '#app/metrics/metrics.module.js';
import { MetricsService } from '#app/metrics/metrics.service.js';
import { PromptRenderer } from '#app/prompts/prompt-renderer.js';
import { ResourcesModule } from '#app/resources/resources.module.js';
import { ResourceReader } from '#app/resources/resource-reader.js';
import { MCP_ENDPOINT, correlationOptions, type HttpHost } from '#app/runtime/http-host.js';
import { SessionMessageLog } from '#app/sessions/session-message-log.js';
import { SessionStore } from '#app/sessions/session.store.js';
import { SessionsModule } from '#app/sessions/sessions.module.js';
import { RestToolExecutor } from '#app/tools/rest-tool.executor.js';
import { ToolInvoker } from '#app/tools/tool-invoker.js';
import { ClientRequests } from './client-requests.js';
import { InFlightRequests } from './in-flight-requests.js';
import { McpDispatcher } from './mcp-dispatcher.js';
import { LiveStreams } from './session-context.js';
import { McpHttpExchange, keepRawJson } from './transports/http-common.js';
import { registerLegacySseTransport } from './transports/legacy-sse.transport.js';
import { registerRpcTransport } from './transports/rpc.transport.js';
import { SseWriter } from './transports/sse-writer.js';
import { registerStreamableHttpTransport } from './transports/streamable-http.transport.js';
import { WebSocketTransport } from './transports/websocket.transport.js';

/**
 * Owns the MCP surface: the JSON-RPC dispatcher and the transport adapters over it. The
 * transports run on their own bare Fastify instance, which the HttpHost hands the MCP paths to:
 * the hot path pays for no Nest hooks, guards, pipes or interceptors, and each adapter
 * authenticates with the AuthGuard itself.
 */
@Module({
  imports: [CatalogSnapshotModule, ResourcesModule, MetricsModule, SessionsModule, FederationModule],
  providers: [McpDispatcher, ToolInvoker, RestToolExecutor, ResourceReader, PromptRenderer],
  exports: [McpDispatcher],
})
export class McpModule implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private fastify: FastifyInstance | null = null;
  private readonly live: LiveStreams;
  private readonly inFlight: InFlightRequests;
  private readonly clientRequests: ClientRequests;
  private stopListening: (() => void) | null = null;
  private stopFederatedUpdates: (() => Promise<void>) | null = null;
  private websocket: WebSocketTransport | null = null;

  constructor(
    @Inject(HTTP_HOST) private readonly host: HttpHost | null,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(McpDispatcher) private readonly dispatcher: McpDispatcher,
    @Inject(AuthGuard) private readonly guard: AuthGuard,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(SessionStore) private readonly sessions: SessionStore,
    @Inject(SessionMessageLog) private readonly log: SessionMessageLog,
    @Inject(CatalogSnapshotService) private readonly catalog: CatalogSnapshotService,
    @Inject(MessageBus) private readonly bus: MessageBus,
    @Inject(FederatedCalls) private readonly federation: FederatedCalls,
  ) {
    this.live = new LiveStreams(log);
    metrics.setSources({
      sessions: () => this.live.sessionsByTransport(),
      sseStreams: () => SseWriter.open,
      gateways: () => this.catalog.current.gateways.values(),
    });
    this.inFlight = new InFlightRequests(bus);
    this.clientRequests = new ClientRequests(bus, config.tools.timeoutMs);
  }

  async onModuleInit(): Promise<void> {
    if (!this.host) return; // a test module without an HTTP server
    const fastify = Fastify(
      this.host.mcpServerOptions({ bodyLimit: this.config.server.maxBodyBytes, trustProxy: true, ...correlationOptions }),
    );
    keepRawJson(fastify);
    // No hooks on this instance: each costs measurably per request. The transports echo the
    // correlation id and record their metrics themselves (see McpHttpExchange).
    const exchange = new McpHttpExchange(this.guard, this.metrics);
    exchange.install(fastify, MCP_ENDPOINT);
    registerRpcTransport(fastify, this.dispatcher, exchange);
    await this.inFlight.start();
    await this.clientRequests.start();
    const sessionTransports = {
      dispatcher: this.dispatcher,
      inFlight: this.inFlight,
      clientRequests: this.clientRequests,
      federation: this.federation,
      exchange,
      sessions: this.sessions,
      log: this.log,
      live: this.live,
      catalog: this.catalog,
      config: this.config,
    };
    registerStreamableHttpTransport(fastify, sessionTransports);
    registerLegacySseTransport(fastify, sessionTransports);
    await fastify.ready();
    this.fastify = fastify;
    const websocket = new WebSocketTransport({
      dispatcher: this.dispatcher,
      clientRequests: this.clientRequests,
      guard: this.guard,
      live: this.live,
      catalog: this.catalog,
      metrics: this.metrics,
      config: this.config,
    });
    this.host.server.on('upgrade', (request, socket, head) => {
      if (!websocket.handleUpgrade(request, socket, head)) socket.destroy();
    });
    this.websocket = websocket;
    // Connected sessions hear about catalog changes on their server-to-client streams.
    this.stopListening = this.catalog.onChange(({ changed, updatedUris }) => {
      for (const kind of changed) void this.live.broadcast(`notifications/${kind}/list_changed`);
      if (updatedUris.length > 0) void this.live.resourcesUpdated(updatedUris);
    });
    // An upstream resource changed: the holders of subscribed client streams tell their clients.
    this.stopFederatedUpdates = await this.bus.subscribe(FEDERATED_RESOURCE_UPDATED, (message) => {
      const uri = (message as { uri?: unknown }).uri;
      if (typeof uri === 'string') void this.live.resourcesUpdated([uri]);
    });
  }

  /** Open streams would hold the HTTP server's close forever: end them first. */
  beforeApplicationShutdown(): void {
    this.stopListening?.();
    void this.stopFederatedUpdates?.();
    this.live.endAll();
    this.websocket?.closeAll();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.fastify?.close();
    await this.inFlight.stop();
    await this.clientRequests.stop();
  }
}
