import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CallToolRequestParamsSchema,
  CompleteRequestParamsSchema,
  GetPromptRequestParamsSchema,
  InitializeRequestParamsSchema,
  ReadResourceRequestParamsSchema,
  SubscribeRequestParamsSchema,
} from '@modelcontextprotocol/core';
import type { ZodType } from 'zod';
import type { CatalogScope, CatalogSnapshot, ToolEntry } from '#app/catalog/catalog-snapshot.js';
import { CatalogSnapshotService } from '#app/catalog/catalog-snapshot.service.js';
import { PromptRenderer } from '#app/prompts/prompt-renderer.js';
import { ResourceReader } from '#app/resources/resource-reader.js';
import { ToolInvoker } from '#app/tools/tool-invoker.js';
import { FederatedCalls } from '#app/federation/federated-calls.js';
import { isObject } from '#app/common/is-object.js';
import { MetricsService, type ToolOutcome } from '#app/metrics/metrics.service.js';
import { inSpan, parentContext, redactArguments, tracing, unsampledScope, type TraceScope } from '#app/metrics/tracing.js';
import { renderList, type ListMethod } from './catalog-lists.js';
import { RawResult, decorateModern } from './mcp-results.js';
import type { McpConnectionContext } from './mcp-context.js';
import { ErrorCode, McpError, type JsonRpcId } from './mcp-types.js';
import {
  BATCH_VERSION,
  LOG_LEVELS,
  META,
  MODERN_VERSIONS,
  SERVER_CAPABILITIES,
  SERVER_INFO,
  isModernVersion,
  negotiateLegacyVersion,
  type Era,
  type McpLogLevel,
} from './protocol.js';

/** What a handler sees of one request. */
export interface McpRequest {
  readonly id: JsonRpcId;
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly era: Era;
  readonly ctx: McpConnectionContext;
  readonly snapshot: CatalogSnapshot;
  readonly scope: CatalogScope;
  /** Tracing on: this request's JSON-RPC span, the parent of the spans it causes. */
  readonly trace: TraceScope | undefined;
}

type Handler = (request: McpRequest) => unknown;

/**
 * Checks a method's params against the official SDK's schema first (about a microsecond): a
 * mismatch is -32602 naming the field, before any handler code runs.
 */
function checked(schema: ZodType, handler: Handler): Handler {
  return (request) => {
    const result = schema.safeParse(request.params);
    if (!result.success) {
      const issues = result.error.issues.map((i) => ({ path: i.path.join('.') || '(params)', message: i.message }));
      const first = issues[0];
      throw new McpError(ErrorCode.InvalidParams, `${request.method}: ${first ? `${first.path}: ${first.message}` : 'invalid params'}`, { issues });
    }
    return handler(request);
  };
}

/** Methods the 2026-07-28 revision removed; a modern request for them is "not found". */
const LEGACY_ONLY = new Set(['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe']);
const MODERN_ONLY = new Set(['server/discover']);

const jsonId = (id: JsonRpcId | null): string => (id === null ? 'null' : JSON.stringify(id));
export const errorResponse = (id: JsonRpcId | null, code: number, message: string, data?: unknown): string =>
  `{"jsonrpc":"2.0","id":${jsonId(id)},"error":${JSON.stringify(data === undefined ? { code, message } : { code, message, data })}}`;

/** Matches the head of a single error response as `errorResponse` writes it. */
const ERROR_HEAD = /^\{"jsonrpc":"2\.0","id":(?:null|-?[\d.eE+-]+|"(?:[^"\\]|\\.)*"),"error":\{"code":(-?\d+)/;

/**
 * The error code of a response this dispatcher serialized, or undefined for a result or a batch.
 * Reads only the head: a result is never parsed, however large or whatever its content says.
 */
export function responseErrorCode(body: string): number | undefined {
  const match = ERROR_HEAD.exec(body);
  return match ? Number(match[1]) : undefined;
}

const validId = (id: unknown): id is JsonRpcId => typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

/**
 * The one JSON-RPC 2.0 dispatcher behind every transport. It validates the envelope, tells the
 * protocol era from the message, routes to the method table, and serializes the response (or
 * returns null for notifications). It knows nothing about HTTP.
 */
@Injectable()
export class McpDispatcher {
  private readonly log = new Logger('McpDispatcher');
  private readonly handlers = new Map<string, Handler>();

  constructor(
    @Inject(CatalogSnapshotService) private readonly catalog: CatalogSnapshotService,
    @Inject(ToolInvoker) private readonly tools: ToolInvoker,
    @Inject(ResourceReader) private readonly resources: ResourceReader,
    @Inject(PromptRenderer) private readonly prompts: PromptRenderer,
    @Inject(FederatedCalls) private readonly federation: FederatedCalls,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {
    this.registerMethods();
  }

  /**
   * Handles one parsed message (object or batch array). Returns the serialized response, or
   * null when nothing is to be sent back (notifications and client responses).
   */
  async dispatch(message: unknown, ctx: McpConnectionContext): Promise<string | null> {
    if (Array.isArray(message)) return this.dispatchBatch(message, ctx);
    return this.dispatchOne(message, ctx);
  }

  private async dispatchBatch(batch: unknown[], ctx: McpConnectionContext): Promise<string | null> {
    if (!ctx.allowBatch) {
      return errorResponse(null, ErrorCode.InvalidRequest, `JSON-RPC batches are only allowed with protocol version ${BATCH_VERSION}`);
    }
    if (batch.length === 0) return errorResponse(null, ErrorCode.InvalidRequest, 'empty batch');
    if (batch.some((m) => isObject(m) && (m.method === 'initialize' || isObject(m.params) && isObject(m.params._meta) && META.protocolVersion in m.params._meta))) {
      return errorResponse(null, ErrorCode.InvalidRequest, 'a batch may not contain initialize or 2026-07-28 requests');
    }
    const replies = (await Promise.all(batch.map((m) => this.dispatchOne(m, ctx)))).filter((r): r is string => r !== null);
    return replies.length === 0 ? null : `[${replies.join(',')}]`;
  }

  private async dispatchOne(message: unknown, ctx: McpConnectionContext): Promise<string | null> {
    if (!isObject(message) || message.jsonrpc !== '2.0') {
      return errorResponse(isObject(message) && validId(message.id) ? message.id : null, ErrorCode.InvalidRequest, 'not a JSON-RPC 2.0 message');
    }
    const { id, method } = message;
    if (method === undefined && ('result' in message || 'error' in message)) {
      ctx.clientResponse?.(message); // the answer to a request we relayed from an upstream
      return null;
    }
    if (typeof method !== 'string') return errorResponse(validId(id) ? id : null, ErrorCode.InvalidRequest, 'method must be a string');
    if (message.params !== undefined && !isObject(message.params)) {
      if (!('id' in message)) return null; // a malformed notification gets no answer
      return validId(id) ? errorResponse(id, ErrorCode.InvalidParams, 'params must be an object') : errorResponse(null, ErrorCode.InvalidRequest, 'id must be a string or a number');
    }
    const params = (message.params ?? {}) as Record<string, unknown>;
    if (!('id' in message)) {
      this.notification(method, params, ctx);
      return null;
    }
    if (!validId(id)) return errorResponse(null, ErrorCode.InvalidRequest, 'id must be a string or a number');

    const started = performance.now();
    const known = this.handlers.has(method) ? method : 'unknown';
    const response = tracing ? await this.tracedRequest(id, method, known, params, ctx) : await this.request(id, method, params, ctx);
    const code = responseErrorCode(response);
    this.metrics.observeMcp(known, ctx.transport, code === undefined ? 'ok' : String(code), (performance.now() - started) / 1000);
    return response;
  }

  /**
   * A request under a JSON-RPC span: the child of the caller's trace context (a 2026-07-28
   * request's `_meta.traceparent`, else the HTTP request's), parent of everything it causes. A
   * tools/call's span is the tool invocation's too (named `tools/call {tool}`, as OpenTelemetry's
   * MCP conventions name it).
   */
  private tracedRequest(id: JsonRpcId, method: string, known: string, params: Record<string, unknown>, ctx: McpConnectionContext): Promise<string> {
    const t = tracing!;
    const meta = isObject(params._meta) ? params._meta : undefined;
    const base = parentContext(t, ctx.trace);
    const parent = typeof meta?.traceparent === 'string' ? t.api.propagation.extract(base, meta) : base;
    const unsampled = unsampledScope(t, parent);
    if (unsampled) return this.request(id, method, params, ctx, unsampled);
    const attributes = { 'rpc.system': 'jsonrpc', 'rpc.method': known, 'rpc.jsonrpc.request_id': String(id), 'mcp.transport': ctx.transport };
    return inSpan(t, known, t.api.SpanKind.SERVER, attributes, parent, async (scope) => {
      const response = await this.request(id, method, params, ctx, scope);
      const code = responseErrorCode(response);
      if (code !== undefined) {
        scope.span.setAttribute('rpc.jsonrpc.error_code', code);
        scope.span.setStatus({ code: t.api.SpanStatusCode.ERROR, message: `JSON-RPC error ${code}` });
      }
      return response;
    });
  }

  private async request(id: JsonRpcId, method: string, params: Record<string, unknown>, ctx: McpConnectionContext, trace?: TraceScope): Promise<string> {
    try {
      const era = this.eraOf(method, params, ctx);
      const handler = this.handlers.get(method);
      if (!handler || (era === 'modern' && LEGACY_ONLY.has(method)) || (era === 'legacy' && MODERN_ONLY.has(method))) {
        throw new McpError(ErrorCode.MethodNotFound, `method not found: ${method}`);
      }
      const snapshot = this.catalog.current;
      const scope = ctx.serverId === null ? snapshot.all : snapshot.server(ctx.serverId);
      if (!scope) throw new McpError(ErrorCode.InvalidParams, `virtual server ${ctx.serverId} does not exist or is inactive`);
      const result = await handler({ id, method, params, era, ctx, snapshot, scope, trace });
      if (result instanceof RawResult) return `{"jsonrpc":"2.0","id":${jsonId(id)},"result":${result.json}}`;
      return `{"jsonrpc":"2.0","id":${jsonId(id)},"result":${JSON.stringify(era === 'modern' ? decorateModern(method, result) : result)}}`;
    } catch (error) {
      if (error instanceof McpError) return errorResponse(id, error.code, error.message, error.data);
      const correlationId = randomUUID();
      this.log.error(`${method} failed [${correlationId}]: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return errorResponse(id, ErrorCode.InternalError, 'internal error', { correlationId });
    }
  }

  /**
   * The era of one request: a `_meta` protocol version makes it 2026-07-28 (validated here);
   * otherwise it is a 2025-era request.
   */
  private eraOf(method: string, params: Record<string, unknown>, ctx: McpConnectionContext): Era {
    const meta = isObject(params._meta) ? params._meta : undefined;
    const version = meta?.[META.protocolVersion];
    if (version === undefined) {
      if (isModernVersion(ctx.protocolVersion)) {
        throw new McpError(ErrorCode.InvalidParams, `protocol version ${ctx.protocolVersion} needs params._meta["${META.protocolVersion}"]`);
      }
      return 'legacy';
    }
    if (!isModernVersion(version)) {
      throw new McpError(ErrorCode.UnsupportedProtocolVersion, `unsupported protocol version ${JSON.stringify(version)}`, {
        supported: [...MODERN_VERSIONS],
        requested: version,
      });
    }
    if (ctx.protocolVersion !== undefined && ctx.protocolVersion !== version) {
      throw new McpError(ErrorCode.HeaderMismatch, `MCP-Protocol-Version ${ctx.protocolVersion} does not match params._meta version ${String(version)}`);
    }
    if (method === 'initialize') throw new McpError(ErrorCode.MethodNotFound, 'initialize does not exist in protocol version 2026-07-28');
    if (!isObject(meta?.[META.clientCapabilities])) {
      throw new McpError(ErrorCode.InvalidParams, `params._meta["${META.clientCapabilities}"] is required (an object; {} for none)`);
    }
    return 'modern';
  }

  private notification(method: string, params: Record<string, unknown>, ctx: McpConnectionContext): void {
    switch (method) {
      case 'notifications/initialized':
        void ctx.session?.markInitialized().catch(() => undefined);
        return;
      case 'notifications/cancelled':
        if (validId(params.requestId)) ctx.cancel?.(params.requestId, typeof params.reason === 'string' ? params.reason : undefined);
        return;
      default:
        return; // unknown notifications are ignored, as JSON-RPC asks
    }
  }

  /** One tools/call of a catalog tool, local (REST) or federated, counted by outcome. */
  private async invokeTool(tool: ToolEntry, gateway: string, request: McpRequest): Promise<unknown> {
    const started = performance.now();
    let outcome: ToolOutcome = 'error';
    try {
      const result =
        tool.gatewayId === null
          ? await this.tools.invoke(tool, request.params.arguments, request.ctx, request.trace?.context)
          : await this.federation.callTool(tool, this.tools.validArguments(tool, request.params.arguments), request);
      outcome = isObject(result) && result.resultType === 'input_required' ? 'input_required' : isObject(result) && result.isError === true ? 'tool_error' : 'success';
      return result;
    } finally {
      this.metrics.observeTool(tool.name, gateway, outcome, (performance.now() - started) / 1000);
    }
  }

  private registerMethods(): void {
    const h = this.handlers;
    h.set('initialize', checked(InitializeRequestParamsSchema, ({ params }) => ({
      protocolVersion: negotiateLegacyVersion(params.protocolVersion),
      capabilities: SERVER_CAPABILITIES,
      serverInfo: SERVER_INFO,
      instructions: 'MCP Gateway: one catalog of tools, resources and prompts from many servers.',
    })));
    h.set('ping', () => ({}));
    h.set('server/discover', () => ({
      supportedVersions: [...MODERN_VERSIONS],
      capabilities: SERVER_CAPABILITIES,
      instructions: 'MCP Gateway: one catalog of tools, resources and prompts from many servers.',
    }));
    h.set('logging/setLevel', async ({ params, ctx }) => {
      if (!(LOG_LEVELS as readonly unknown[]).includes(params.level)) {
        throw new McpError(ErrorCode.InvalidParams, `level must be one of: ${LOG_LEVELS.join(', ')}`);
      }
      await ctx.session?.setLogLevel(params.level as McpLogLevel);
      return {};
    });

    for (const method of ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list'] as const) {
      h.set(method, ({ params, scope, era }) => renderList(scope, method as ListMethod, params.cursor, era));
    }

    h.set('tools/call', checked(CallToolRequestParamsSchema, (request) => {
      const tool = request.scope.toolsByName.get(request.params.name as string);
      if (!tool) throw new McpError(ErrorCode.InvalidParams, `unknown tool: ${String(request.params.name)}`);
      const gateway = tool.gatewayId === null ? 'local' : (request.snapshot.gateways.get(tool.gatewayId)?.name ?? tool.gatewayId);
      const span = request.trace?.span;
      // Only a sampled span pays for naming the tool and serializing the arguments.
      if (span?.isRecording()) {
        span.updateName(`tools/call ${tool.name}`);
        span.setAttributes({ 'mcp.tool.name': tool.name, 'mcp.gateway': gateway, 'mcp.tool.arguments': redactArguments(request.params.arguments) });
      }
      return this.invokeTool(tool, gateway, request);
    }));

    h.set('resources/read', checked(ReadResourceRequestParamsSchema, async (request) => {
      const { params, scope, era } = request;
      if (typeof params.uri !== 'string') throw new McpError(ErrorCode.InvalidParams, 'resources/read: uri must be a string');
      const gatewayId = this.federation.gatewayForUri(params.uri, request);
      if (gatewayId !== null) return this.federation.readResource(gatewayId, params.uri, request);
      const entry = scope.resourcesByUri.get(params.uri);
      const contents = entry ? await this.resources.read(entry) : null;
      if (!contents) {
        throw new McpError(era === 'modern' ? ErrorCode.InvalidParams : ErrorCode.ResourceNotFound, `resource not found: ${params.uri}`, {
          uri: params.uri,
        });
      }
      return { contents };
    }));

    const subscription = (subscribe: boolean): Handler => async (request) => {
      const { params, scope, ctx } = request;
      if (typeof params.uri !== 'string') throw new McpError(ErrorCode.InvalidParams, 'uri must be a string');
      const gatewayId = this.federation.gatewayForUri(params.uri, request);
      if (!scope.resourcesByUri.has(params.uri) && gatewayId === null) {
        throw new McpError(ErrorCode.ResourceNotFound, `resource not found: ${params.uri}`, { uri: params.uri });
      }
      // Federated: relayed upstream by this worker's session (counted per worker); the upstream's
      // updates fan out to every subscribed session on every worker.
      if (gatewayId !== null) await this.federation.subscribe(gatewayId, params.uri, subscribe, request);
      if (ctx.session) await (subscribe ? ctx.session.subscribe(params.uri) : ctx.session.unsubscribe(params.uri));
      return {};
    };
    h.set('resources/subscribe', checked(SubscribeRequestParamsSchema, subscription(true)));
    h.set('resources/unsubscribe', checked(SubscribeRequestParamsSchema, subscription(false)));

    h.set('prompts/get', checked(GetPromptRequestParamsSchema, (request) => {
      const { params, scope } = request;
      if (typeof params.name !== 'string') throw new McpError(ErrorCode.InvalidParams, 'prompts/get: name must be a string');
      const prompt = scope.promptsByName.get(params.name);
      if (!prompt) throw new McpError(ErrorCode.InvalidParams, `unknown prompt: ${params.name}`);
      if (prompt.gatewayId !== null) return this.federation.getPrompt(prompt, params.arguments, request);
      return this.prompts.render(prompt, params.arguments);
    }));

    h.set('completion/complete', checked(CompleteRequestParamsSchema, (request) => {
      const { params, scope } = request;
      const ref = isObject(params.ref) ? params.ref : null;
      const argument = isObject(params.argument) ? params.argument : null;
      if (!ref || !argument || typeof argument.name !== 'string' || typeof argument.value !== 'string') {
        throw new McpError(ErrorCode.InvalidParams, 'completion/complete needs ref and argument {name, value}');
      }
      if (ref.type === 'ref/prompt') {
        const prompt = typeof ref.name === 'string' ? scope.promptsByName.get(ref.name) : undefined;
        if (!prompt) throw new McpError(ErrorCode.InvalidParams, `unknown prompt: ${String(ref.name)}`);
        if (!prompt.arguments.some((a) => a.name === argument.name)) {
          throw new McpError(ErrorCode.InvalidParams, `prompt "${prompt.name}" has no argument "${argument.name}"`);
        }
        if (prompt.gatewayId !== null) {
          return this.federation.complete(prompt.gatewayId, params, { type: 'ref/prompt', name: prompt.originalName ?? prompt.name }, request);
        }
      } else if (ref.type === 'ref/resource') {
        if (typeof ref.uri !== 'string') throw new McpError(ErrorCode.InvalidParams, 'ref/resource needs a uri');
        const gatewayId = this.federation.gatewayForTemplate(ref.uri, request) ?? this.federation.gatewayForUri(ref.uri, request);
        if (gatewayId !== null) return this.federation.complete(gatewayId, params, ref, request);
      } else {
        throw new McpError(ErrorCode.InvalidParams, 'ref.type must be ref/prompt or ref/resource');
      }
      // Stored prompts and resources define no value sets: nothing to suggest.
      return { completion: { values: [], total: 0, hasMore: false } };
    }));
  }
}
