import { Inject, Injectable } from '@nestjs/common';
import { StoredCredentials } from '#app/auth/stored-credentials.js';
import { CatalogEvents } from '#app/catalog/catalog-events.js';
import { CatalogItemService } from '#app/catalog/catalog-item.service.js';
import { newId } from '#app/common/ids.js';
import { JsonSchemaCompiler } from '#app/common/json-schema.js';
import { unprocessable } from '#app/common/validation.js';
import type { CreateToolDto, ToolFieldsDto, ToolResponse, UpdateToolDto } from './dto/tool.dto.js';
import { ToolEntity } from './tool.entity.js';
import { ToolRepository } from './tool.repository.js';

const DEFAULT_INPUT_SCHEMA = { type: 'object', properties: {} };
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Admin use cases for tools: create, list, read, update, delete, (de)activate. */
@Injectable()
export class ToolsService extends CatalogItemService<ToolEntity, ToolResponse> {
  constructor(
    @Inject(ToolRepository) tools: ToolRepository,
    @Inject(CatalogEvents) events: CatalogEvents,
    @Inject(StoredCredentials) private readonly credentials: StoredCredentials,
    @Inject(JsonSchemaCompiler) private readonly schemas: JsonSchemaCompiler,
  ) {
    super('tool', tools, events, (t) => `named ${JSON.stringify(t.name)}`);
  }

  async create(dto: CreateToolDto): Promise<ToolResponse> {
    const tool = new ToolEntity();
    tool.id = newId();
    tool.originalName = null;
    tool.gatewayId = null;
    tool.isActive = true;
    tool.integrationType = 'REST';
    tool.requestType = 'POST';
    tool.inputSchema = DEFAULT_INPUT_SCHEMA;
    tool.tags = [];
    tool.authType = null;
    tool.authValue = null;
    tool.name = dto.name;
    tool.url = dto.url;
    this.apply(tool, dto);
    return this.commit(tool, 'created');
  }

  async update(id: string, dto: UpdateToolDto): Promise<ToolResponse> {
    const tool = await this.find(id);
    if (dto.name !== undefined) tool.name = dto.name;
    if (dto.url !== undefined) tool.url = dto.url;
    this.apply(tool, dto);
    return this.commit(tool, 'updated');
  }

  override toResponse(tool: ToolEntity): ToolResponse {
    return {
      id: tool.id,
      name: tool.name,
      original_name: tool.originalName,
      url: tool.url,
      description: tool.description,
      integration_type: tool.integrationType,
      request_type: tool.requestType,
      headers: tool.headers ?? {},
      input_schema: tool.inputSchema,
      output_schema: tool.outputSchema,
      annotations: tool.annotations ?? {},
      auth: this.credentials.mask(tool),
      tags: tool.tags,
      timeout_ms: tool.timeoutMs,
      gateway_id: tool.gatewayId,
      is_active: tool.isActive,
      enabled: tool.isActive,
      created_at: tool.createdAt.toISOString(),
      updated_at: tool.updatedAt.toISOString(),
    };
  }

  /** Copies the optional fields of a create or update onto the entity, validating what DTOs can't. */
  private apply(tool: ToolEntity, dto: ToolFieldsDto): void {
    if (dto.headers !== undefined) {
      for (const [name, value] of Object.entries(dto.headers ?? {})) {
        if (!HEADER_NAME.test(name) || typeof value !== 'string') {
          throw unprocessable([{ field: `headers.${name}`, message: 'headers must map valid header names to string values' }]);
        }
      }
      tool.headers = dto.headers;
    }
    for (const field of ['input_schema', 'output_schema'] as const) {
      const schema = dto[field];
      if (schema === undefined || schema === null) continue;
      const problem = this.schemas.problem(schema);
      if (problem) throw unprocessable([{ field, message: `${field} ${problem}` }]);
    }
    if (dto.input_schema !== undefined) tool.inputSchema = dto.input_schema;
    if (dto.output_schema !== undefined) tool.outputSchema = dto.output_schema;
    if (dto.description !== undefined) tool.description = dto.description;
    if (dto.integration_type !== undefined) tool.integrationType = dto.integration_type;
    if (dto.request_type !== undefined) tool.requestType = dto.request_type;
    if (dto.annotations !== undefined) tool.annotations = dto.annotations;
    if (dto.tags !== undefined) tool.tags = [...new Set(dto.tags)];
    if (dto.timeout_ms !== undefined) tool.timeoutMs = dto.timeout_ms;
    Object.assign(tool, this.credentials.seal(dto.auth, tool));
    if (tool.integrationType === 'REST' && !tool.url) throw unprocessable([{ field: 'url', message: 'url is required for REST tools' }]);
  }

}
