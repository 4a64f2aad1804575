import { Inject, Injectable, Logger } from '@nestjs/common';
import { ProtocolError, SdkError, SdkErrorCode, UriTemplate, type Client, type RequestOptions, type StandardSchemaV1 } from '@modelcontextprotocol/client';
import type { GatewayEntry, PromptEntry, ToolEntry } from '#app/catalog/catalog-snapshot.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import type { McpRequest } from '#app/mcp/mcp-dispatcher.js';
import { ErrorCode, McpError } from '#app/mcp/mcp-types.js';
import { LOG_LEVELS, META } from '#app/mcp/protocol.js';
import { isObject } from '#app/common/is-object.js';
import { inSpan, injectTraceHeaders, parentContext, tracing, type TraceScope } from '#app/metrics/tracing.js';
import { InputRounds, type RoundOutcome } from './input-rounds.js';
import { UpstreamClientPool } from './upstream-client.pool.js';
import { relayContext, type InputMethod, type RelayTarget } from './upstream-relay.js';
import { UpstreamUnavailableError } from './upstream-session.js';

/**
 * The result "schema" of relayed requests: any JSON object passes unchanged. The gateway relays
 * the upstream's result rather than consuming it, the downstream client validates what it gets,
 * and the SDK's full zod parse of each result cost measurably per federated call.
 */
const RELAYED_RESULT: StandardSchemaV1<unknown, Record<string, unknown>> = {
  '~standard': {
    version: 1,
    vendor: 'mcp-gateway',
    validate: (value) => (isObject(value) ? { value } : { issues: [{ message: 'the upstream result is not a JSON object' }] }),
  },
};

/** Which client capability each server-to-client request needs. */
const CAPABILITY_OF: Record<InputMethod, string> = { 'sampling/createMessage': 'sampling', 'elicitation/create': 'elicitation', 'roots/list': 'roots' };
/** Result fields that describe one hop of the 2026-07-28 wire, not the content: we set our own. */
const HOP_FIELDS = ['resultType', 'ttlMs', 'cacheScope'];

/**
 * Relays the calls a client makes on federated items to their upstream, over the pooled session:
 * `tools/call`, `resources/read`, `prompts/get`, `completion/complete` and resource
 * (un)subscriptions, with progress (tokens mapped by the SDK), log messages (filtered by the
 * client's level), cancellation, passthrough headers, and the upstream's server-to-client
 * requests (relayed to 2025-era clients as real requests, to 2026-07-28 clients as
 * `input_required` rounds).
 */
@Injectable()
export class FederatedCalls {
  private readonly log = new Logger('FederatedCalls');
  private readonly templates = new Map<string, UriTemplate>();

  constructor(
    @Inject(UpstreamClientPool) private readonly pool: UpstreamClientPool,
    @Inject(InputRounds) private readonly rounds: InputRounds,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  callTool(tool: ToolEntry, args: Record<string, unknown>, request: McpRequest): Promise<unknown> {
    const gateway = this.gatewayOf(tool.gatewayId, request);
    const name = tool.originalName ?? tool.name;
    const timeoutMs = tool.timeoutMs ?? this.config.tools.timeoutMs;
    return this.relay(gateway, request, timeoutMs, true, async (client, options) => {
      try {
        return await client.request({ method: 'tools/call', params: { name, arguments: args, ...this.forwardMeta(request, client) } }, RELAYED_RESULT, options);
      } catch (error) {
        // A tool that runs out of time is a failed tool call (a result), not a protocol error.
        if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout && !request.ctx.signal?.().aborted) {
          return { content: [{ type: 'text', text: `tool "${tool.name}" timed out after ${timeoutMs} ms` }], isError: true };
        }
        throw error;
      }
    });
  }

  getPrompt(prompt: PromptEntry, args: unknown, request: McpRequest): Promise<unknown> {
    const gateway = this.gatewayOf(prompt.gatewayId, request);
    return this.relay(gateway, request, this.config.tools.timeoutMs, true, (client, options) =>
      client.request({ method: 'prompts/get', params: { name: prompt.originalName ?? prompt.name, ...(args === undefined ? {} : { arguments: args }), ...this.forwardMeta(request, client) } }, RELAYED_RESULT, options),
    );
  }

  /** The gateway serving `uri`: a federated resource, or one matching a federated URI template. */
  gatewayForUri(uri: string, request: McpRequest): string | null {
    const entry = request.scope.resourcesByUri.get(uri);
    if (entry) return entry.gatewayId;
    for (const t of request.scope.templates) {
      if (t.gatewayId === null) continue;
      let template = this.templates.get(t.listing.uriTemplate);
      if (!template) {
        try {
          template = new UriTemplate(t.listing.uriTemplate);
        } catch {
          continue;
        }
        this.templates.set(t.listing.uriTemplate, template);
      }
      if (template.match(uri)) return t.gatewayId;
    }
    return null;
  }

  /** The gateway of a URI template named in a completion reference. */
  gatewayForTemplate(uriTemplate: string, request: McpRequest): string | null {
    return request.scope.templates.find((t) => t.listing.uriTemplate === uriTemplate)?.gatewayId ?? null;
  }

  readResource(gatewayId: string, uri: string, request: McpRequest): Promise<unknown> {
    const gateway = this.gatewayOf(gatewayId, request);
    return this.relay(gateway, request, this.config.tools.timeoutMs, true, (client, options) =>
      client.request({ method: 'resources/read', params: { uri, ...this.forwardMeta(request, client) } }, RELAYED_RESULT, options),
    );
  }

  complete(gatewayId: string, params: Record<string, unknown>, upstreamRef: Record<string, unknown>, request: McpRequest): Promise<unknown> {
    const gateway = this.gatewayOf(gatewayId, request);
    return this.relay(gateway, request, this.config.tools.timeoutMs, false, (client, options) =>
      client.request({ method: 'completion/complete', params: { argument: params.argument, ...(params.context ? { context: params.context } : {}), ref: upstreamRef, ...this.forwardMeta(request, client) } }, RELAYED_RESULT, options),
    );
  }

  async subscribe(gatewayId: string, uri: string, subscribe: boolean, request: McpRequest): Promise<void> {
    const gateway = this.gatewayOf(gatewayId, request);
    const session = this.pool.session(gateway);
    try {
      if (subscribe) await session.subscribe(uri, this.config.federation.healthCheckTimeoutMs);
      else await session.unsubscribe(uri, this.config.federation.healthCheckTimeoutMs);
    } catch (error) {
      throw mapUpstreamError(error, gateway, this.config.federation.healthCheckTimeoutMs, request);
    }
  }

  /**
   * Subscribes upstream to federated resources a 2026-07-28 listen stream asks for (its updates
   * then reach the stream like any other), or, when the stream ends, lets go of them. Best
   * effort: an upstream that refuses is logged.
   */
  async subscribeForListen(uris: string[], scope: McpRequest['scope'], snapshot: McpRequest['snapshot'], subscribe = true): Promise<void> {
    await Promise.all(
      uris.map(async (uri) => {
        const gatewayId = scope.resourcesByUri.get(uri)?.gatewayId;
        const gateway = gatewayId ? snapshot.gateways.get(gatewayId) : undefined;
        if (!gateway?.reachable) return;
        const session = this.pool.session(gateway);
        const timeoutMs = this.config.federation.healthCheckTimeoutMs;
        await (subscribe ? session.subscribe(uri, timeoutMs) : session.unsubscribe(uri, timeoutMs)).catch((error: Error) =>
          this.log.warn(`upstream ${subscribe ? 'subscription to' : 'unsubscription from'} ${uri} failed: ${error.message}`),
        );
      }),
    );
  }

  private gatewayOf(gatewayId: string | null, request: McpRequest): GatewayEntry {
    const gateway = gatewayId === null ? undefined : request.snapshot.gateways.get(gatewayId);
    if (!gateway) throw new McpError(ErrorCode.UpstreamUnavailable, 'the gateway of this item is no longer active');
    if (!gateway.reachable) {
      throw new McpError(ErrorCode.UpstreamUnavailable, `gateway "${gateway.name}" is unreachable${gateway.lastError ? ` (${gateway.lastError})` : ''}`, {
        gateway: gateway.name,
      });
    }
    return gateway;
  }

  /**
   * Runs one upstream request in the relay context of the downstream request. For a 2026-07-28
   * client, an operation that may need client input runs as a parkable round.
   */
  private async relay(
    gateway: GatewayEntry,
    request: McpRequest,
    timeoutMs: number,
    mayAskInput: boolean,
    op: (client: Client, options: RequestOptions) => Promise<unknown>,
  ): Promise<unknown> {
    const session = this.pool.session(gateway);
    const passthrough = this.passthrough(gateway, request);
    const log = this.logForwarder(request);
    const options = (signal: AbortSignal | undefined): RequestOptions => ({
      timeout: timeoutMs,
      resetTimeoutOnProgress: true,
      maxTotalTimeout: timeoutMs * 10,
      ...(signal ? { signal } : {}),
      ...this.progress(request),
    });
    // A missing client capability is the client's problem, whatever the upstream makes of our refusal.
    let refused: McpError | null = null;
    const checked = (ask: RelayTarget['requestInput']): RelayTarget['requestInput'] => (method, params) => {
      const missing = this.missingCapability(request, method);
      if (missing) throw (refused = missing);
      return ask(method, params);
    };
    const call = (requestInput: RelayTarget['requestInput'], signal: AbortSignal | undefined, trace: TraceScope | undefined) =>
      relayContext.run({ passthrough, log, requestInput: checked(requestInput), traceHeaders: trace ? injectTraceHeaders({}, trace.context) : null }, async () => {
        let client: Client;
        try {
          client = await session.get();
        } catch (error) {
          throw mapUpstreamError(error, gateway, timeoutMs, request);
        }
        try {
          return cleanResult(await op(client, options(signal)), request);
        } catch (error) {
          throw refused ?? mapUpstreamError(error, gateway, timeoutMs, request);
        }
      });
    // Tracing on: the upstream call is a client span (connecting included), and the upstream
    // continues it (traceparent in the HTTP headers and in `_meta`).
    const run = (requestInput: RelayTarget['requestInput'], signal: AbortSignal | undefined) =>
      tracing
        ? inSpan(tracing, `upstream ${request.method}`, tracing.api.SpanKind.CLIENT, {
            'rpc.system': 'jsonrpc',
            'rpc.method': request.method,
            'mcp.gateway': gateway.name,
            'mcp.upstream.transport': gateway.transport,
            'server.address': gateway.url,
          }, parentContext(tracing, request.trace?.context), (trace) => call(requestInput, signal, trace))
        : call(requestInput, signal, undefined);

    if (request.era !== 'modern' || !mayAskInput) {
      return run((method, params) => this.askLegacyClient(request, method, params), request.ctx.signal?.());
    }
    const principal = request.ctx.user.username;
    const listener = { signal: request.ctx.signal?.() };
    const outcome = this.rounds.isRetry(request.params)
      ? await this.rounds.resume(principal, request.params, listener)
      : await this.rounds.begin(principal, listener, (ask, signal) => run(ask, signal));
    return fromOutcome(outcome);
  }

  /** A 2025-era client: the upstream's request becomes a real request on the client's session. */
  private askLegacyClient(request: McpRequest, method: InputMethod, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const send = request.ctx.request;
    if (!send) {
      throw new ProtocolError(ErrorCode.InternalError, `${method}: the downstream client is connected over ${request.ctx.transport}, which cannot carry server-to-client requests`);
    }
    return send(method, params, request.ctx.signal?.());
  }

  /** -32021 when the client did not declare what the upstream asks for (never send it an undeclared request). */
  private missingCapability(request: McpRequest, method: InputMethod): McpError | null {
    const meta = isObject(request.params._meta) ? request.params._meta : undefined;
    const caps = request.era === 'modern' ? meta?.[META.clientCapabilities] : request.ctx.session?.clientCapabilities;
    const capability = CAPABILITY_OF[method];
    if (isObject(caps) && capability in caps) return null;
    return new McpError(ErrorCode.MissingRequiredClientCapability, `${method}: the client did not declare the ${capability} capability`, {
      requiredCapabilities: { [capability]: {} },
    });
  }

  private passthrough(gateway: GatewayEntry, request: McpRequest): Record<string, string> | null {
    const headers = request.ctx.headers;
    if (gateway.passthroughHeaders.length === 0 || !headers) return null;
    const out: Record<string, string> = {};
    for (const name of gateway.passthroughHeaders) {
      const value = headers[name];
      if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return Object.keys(out).length > 0 ? out : null;
  }

  /** Progress: the SDK gives the upstream its own token; we report under the client's. */
  private progress(request: McpRequest): Partial<RequestOptions> {
    const meta = isObject(request.params._meta) ? request.params._meta : undefined;
    const token = meta?.progressToken;
    const notify = request.ctx.notify;
    if ((typeof token !== 'string' && typeof token !== 'number') || !notify) return {};
    return {
      onprogress: (p) => notify('notifications/progress', { progressToken: token, progress: p.progress, ...(p.total !== undefined ? { total: p.total } : {}), ...(p.message !== undefined ? { message: p.message } : {}) }),
    };
  }

  /** Log messages pass at or above the client's level: the session's (2025) or the request's (2026; none without one). */
  private logForwarder(request: McpRequest): RelayTarget['log'] {
    const notify = request.ctx.notify;
    const min = LOG_LEVELS.indexOf(this.logLevel(request) as (typeof LOG_LEVELS)[number]);
    if (!notify || min < 0) return () => undefined;
    return (params) => {
      if (LOG_LEVELS.indexOf(params.level as (typeof LOG_LEVELS)[number]) >= min) notify('notifications/message', params);
    };
  }

  /**
   * `_meta` the upstream should see: trace context, and the log level this client listens at (a
   * 2026-07-28 upstream only logs for requests that name one). Never our envelope or the
   * client's progress token (the SDK mints its own).
   */
  private forwardMeta(request: McpRequest, client: Client): Record<string, unknown> {
    const meta = isObject(request.params._meta) ? request.params._meta : undefined;
    const out: Record<string, unknown> = {};
    if (meta) for (const key of ['traceparent', 'tracestate', 'baggage']) if (meta[key] !== undefined) out[key] = meta[key];
    // Tracing on: the upstream continues our upstream-call span (a child of the client's context).
    const traceHeaders = relayContext.getStore()?.traceHeaders;
    if (traceHeaders) Object.assign(out, traceHeaders);
    // Only a 2026-07-28 upstream: envelope keys would make a 2025 server read the request as 2026.
    const level = this.logLevel(request);
    if (level && request.ctx.notify && client.getProtocolEra() === 'modern') out[META.logLevel] = level;
    return Object.keys(out).length > 0 ? { _meta: out } : {};
  }

  /** The session's level (2025; everything when unset), or the request's (2026-07-28; none when absent). */
  private logLevel(request: McpRequest): string | undefined {
    if (request.era !== 'modern') return request.ctx.session?.logLevel ?? 'debug';
    const meta = isObject(request.params._meta) ? request.params._meta : undefined;
    const level = meta?.[META.logLevel];
    return typeof level === 'string' ? level : undefined;
  }
}

/** Drops the upstream's wire-hop fields; the dispatcher adds ours for 2026-07-28 clients. */
function cleanResult(result: unknown, request: McpRequest): unknown {
  if (!isObject(result)) return result;
  const r: Record<string, unknown> = { ...result };
  for (const field of HOP_FIELDS) delete r[field];
  if (isObject(r._meta)) {
    const { [META.serverInfo]: _upstream, ...meta } = r._meta;
    if (Object.keys(meta).length > 0) r._meta = meta;
    else delete r._meta;
  }
  // 2025 clients only understand object structured content.
  if (request.era === 'legacy' && 'structuredContent' in r && !isObject(r.structuredContent)) delete r.structuredContent;
  return r;
}

function fromOutcome(outcome: RoundOutcome): unknown {
  switch (outcome.kind) {
    case 'result':
      return outcome.value;
    case 'error':
      throw new McpError(outcome.code, outcome.message, outcome.data);
    case 'input':
      return { resultType: 'input_required', inputRequests: outcome.inputRequests, requestState: outcome.requestState };
  }
}

/** Turns what the SDK threw into the error the downstream client gets. */
function mapUpstreamError(error: unknown, gateway: GatewayEntry, timeoutMs: number, request: McpRequest): McpError {
  if (error instanceof McpError) return error;
  if (request.ctx.signal?.().aborted) return new McpError(ErrorCode.RequestCancelled, 'request cancelled by the client');
  if (error instanceof UpstreamUnavailableError) return new McpError(ErrorCode.UpstreamUnavailable, error.message, { gateway: gateway.name });
  if (error instanceof ProtocolError) {
    // The upstream's own JSON-RPC error, passed on; "resource not found" in the client's era.
    const notFound = error.code === ErrorCode.ResourceNotFound || (request.method === 'resources/read' && error.code === ErrorCode.InvalidParams);
    const code = notFound && request.method === 'resources/read' ? (request.era === 'modern' ? ErrorCode.InvalidParams : ErrorCode.ResourceNotFound) : error.code;
    return new McpError(code, error.message, error.data);
  }
  if (error instanceof SdkError) {
    if (error.code === SdkErrorCode.RequestTimeout) return new McpError(ErrorCode.InternalError, `gateway "${gateway.name}" did not answer within ${timeoutMs} ms`, { gateway: gateway.name });
    return new McpError(ErrorCode.UpstreamUnavailable, `gateway "${gateway.name}" failed: ${error.message}`, { gateway: gateway.name });
  }
  return new McpError(ErrorCode.UpstreamUnavailable, `gateway "${gateway.name}" failed: ${error instanceof Error ? error.message : String(error)}`, { gateway: gateway.name });
}
