import type {
  CallToolResultSchema,
  ClientCapabilitiesSchema,
  GetPromptResultSchema,
  ImplementationSchema,
  PromptSchema,
  ReadResourceResultSchema,
  ResourceSchema,
  ResourceTemplateSchema,
  ToolSchema,
} from '@modelcontextprotocol/core';
import type { z } from 'zod';

/**
 * MCP message types, taken from the official SDK's schemas (`@modelcontextprotocol/core`), so
 * the gateway's shapes cannot drift from the protocol's.
 */
export type McpTool = z.output<typeof ToolSchema>;
export type McpResource = z.output<typeof ResourceSchema>;
export type McpResourceTemplate = z.output<typeof ResourceTemplateSchema>;
export type McpPrompt = z.output<typeof PromptSchema>;
export type CallToolResult = z.output<typeof CallToolResultSchema>;
export type ReadResourceResult = z.output<typeof ReadResourceResultSchema>;
export type GetPromptResult = z.output<typeof GetPromptResultSchema>;
export type ClientCapabilities = z.output<typeof ClientCapabilitiesSchema>;
export type Implementation = z.output<typeof ImplementationSchema>;

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId | null; result: unknown }
  | { jsonrpc: '2.0'; id: JsonRpcId | null; error: JsonRpcErrorObject };

/** JSON-RPC and MCP error codes (DESIGN.md §5, MCP-PROTOCOL.md §5). */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** SDK convention for transport-level failures (missing session id, bad Accept…). */
  TransportError: -32000,
  /** SDK convention: unknown or ended session. */
  SessionNotFound: -32001,
  /** Legacy-era "resource not found". */
  ResourceNotFound: -32002,
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
  /** A federated upstream is marked unreachable, or could not be reached for this call. */
  UpstreamUnavailable: -32010,
  /** The client cancelled the request (notifications/cancelled); LSP's code, MCP defines none. */
  RequestCancelled: -32800,
} as const;

/** Thrown by handlers to answer with a JSON-RPC error instead of a result. */
export class McpError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'McpError';
  }
}
