import { Injectable } from '@nestjs/common';
import type { PromptEntry } from '#app/catalog/catalog-snapshot.js';
import { ErrorCode, McpError, type GetPromptResult } from '#app/mcp/mcp-types.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Renders a stored prompt template for `prompts/get`. */
@Injectable()
export class PromptRenderer {
  render(prompt: PromptEntry, args: unknown): GetPromptResult {
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      throw new McpError(ErrorCode.InvalidParams, 'prompts/get: arguments must be an object of strings');
    }
    const values = (args ?? {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(values)) {
      if (typeof value !== 'string') throw new McpError(ErrorCode.InvalidParams, `prompts/get: argument "${name}" must be a string`);
    }
    const missing = prompt.arguments.filter((a) => a.required && values[a.name] === undefined).map((a) => a.name);
    if (missing.length > 0) {
      throw new McpError(ErrorCode.InvalidParams, `prompt "${prompt.name}" is missing required argument(s): ${missing.join(', ')}`, {
        missing,
      });
    }
    const text = prompt.template.replace(PLACEHOLDER, (_all, name: string) => (values[name] as string | undefined) ?? '');
    return {
      ...(prompt.listing.description ? { description: prompt.listing.description } : {}),
      messages: [{ role: 'user', content: { type: 'text', text } }],
    };
  }
}
