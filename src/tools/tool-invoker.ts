import { Inject, Injectable } from '@nestjs/common';
import type { Context } from '@opentelemetry/api';
import type { ValidateFunction } from 'ajv';
import { LRUCache } from 'lru-cache';
import { StoredCredentials } from '#app/auth/stored-credentials.js';
import type { ToolEntry } from '#app/catalog/catalog-snapshot.js';
import { JsonSchemaCompiler } from '#app/common/json-schema.js';
import type { McpConnectionContext } from '#app/mcp/mcp-context.js';
import { ErrorCode, McpError, type CallToolResult } from '#app/mcp/mcp-types.js';
import { RestToolExecutor } from './rest-tool.executor.js';

/** Compiled argument validators kept per worker; keyed by tool revision, so edits recompile. */
const VALIDATOR_CACHE_SIZE = 10_000;

/**
 * Runs `tools/call`: validates the arguments against the tool's input schema with a compiled,
 * cached validator (-32602 with the failing path), then hands the call to the executor for the
 * tool's integration type.
 */
@Injectable()
export class ToolInvoker {
  private readonly validators = new LRUCache<string, ValidateFunction>({ max: VALIDATOR_CACHE_SIZE });

  constructor(
    @Inject(JsonSchemaCompiler) private readonly schemas: JsonSchemaCompiler,
    @Inject(RestToolExecutor) private readonly rest: RestToolExecutor,
    @Inject(StoredCredentials) private readonly credentials: StoredCredentials,
  ) {}

  /** The call's arguments checked against the tool's input schema (-32602 naming the path). */
  validArguments(tool: ToolEntry, rawArgs: unknown): Record<string, unknown> {
    if (rawArgs !== undefined && (typeof rawArgs !== 'object' || rawArgs === null || Array.isArray(rawArgs))) {
      throw new McpError(ErrorCode.InvalidParams, `tools/call: arguments must be an object`);
    }
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    this.validate(tool, args);
    return args;
  }

  /** `trace`: tracing on, the caller's trace context (the REST call's span is its child). */
  async invoke(tool: ToolEntry, rawArgs: unknown, ctx: McpConnectionContext, trace?: Context): Promise<CallToolResult> {
    const args = this.validArguments(tool, rawArgs);
    if (tool.integrationType !== 'REST' || !tool.url) {
      throw new McpError(ErrorCode.InternalError, `tool "${tool.name}" has no executor on this gateway`);
    }
    const signal = ctx.signal?.();
    const target = {
      id: tool.id,
      name: tool.name,
      url: tool.url,
      requestType: tool.requestType,
      headers: tool.headers,
      authHeaders: () => this.credentials.headers(tool.auth),
      timeoutMs: tool.timeoutMs,
      outputSchema: tool.outputSchema,
    };
    try {
      return await this.rest.execute(target, args, { signal, trace });
    } catch (error) {
      if (signal?.aborted) throw new McpError(ErrorCode.RequestCancelled, `request cancelled: ${(signal.reason as Error)?.message ?? 'by the client'}`);
      throw error;
    }
  }

  private validate(tool: ToolEntry, args: Record<string, unknown>): void {
    let validate = this.validators.get(tool.revision);
    if (!validate) {
      validate = this.schemas.compile(tool.inputSchema);
      this.validators.set(tool.revision, validate);
    }
    if (validate(args)) return;
    const errors = (validate.errors ?? []).map((e) => ({
      path: e.instancePath || '/',
      message: e.message ?? 'is invalid',
      ...(e.keyword === 'required' ? { missing: (e.params as { missingProperty?: string }).missingProperty } : {}),
    }));
    const first = errors[0];
    const where = first?.missing ? `${first.path === '/' ? '' : first.path}/${first.missing}` : (first?.path ?? '/');
    throw new McpError(ErrorCode.InvalidParams, `Invalid arguments for tool "${tool.name}": ${where} ${first?.message ?? 'is invalid'}`, {
      errors,
    });
  }
}
