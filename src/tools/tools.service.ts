import { Inject, Injectable } from '@nestjs/common';
import { StoredCredentials } from '#app/auth/stored-credentials.js';
import { CatalogEvents } from '#app/catalog/catalog-events.js';
import { conflict, notFound } from '#app/common/http-errors.js';
import { newId } from '#app/common/ids.js';
import { JsonSchemaCompiler } from '#app/common/json-schema.js';
import type { ListQueryDto, Page } from '#app/common/list-query.dto.js';
import { unprocessable } from '#app/common/validation.js';
import { isUniqueViolation } from '#app/database/database-errors.js';
import type { CreateToolDto, ToolFieldsDto, ToolResponse, UpdateToolDto } from './dto/tool.dto.js';
import { ToolEntity } from './tool.entity.js';
import { ToolRepository } from './tool.repository.js';

const DEFAULT_INPUT_SCHEMA = { type: 'object', properties: {} };
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Admin use cases for tools: create, list, read, update, delete, (de)activate. */
@Injectable()
export class ToolsService {
  constructor(
    @Inject(ToolRepository) private readonly tools: ToolRepository,
    @Inject(StoredCredentials) private readonly credentials: StoredCredentials,
    @Inject(JsonSchemaCompiler) private readonly schemas: JsonSchemaCompiler,
    @Inject(CatalogEvents) private readonly events: CatalogEvents,
  ) {}

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
    const saved = await this.persist(tool);
    await this.events.emit({ kind: 'tool', id: saved.id, action: 'created' });
    return this.toResponse(saved);
  }

  async list(query: ListQueryDto): Promise<Page<ToolResponse>> {
    const page = await this.tools.findPage(query);
    return { ...page, items: page.items.map((t) => this.toResponse(t)) };
  }

  async get(id: string): Promise<ToolResponse> {
    return this.toResponse(await this.find(id));
  }

  async update(id: string, dto: UpdateToolDto): Promise<ToolResponse> {
    const tool = await this.find(id);
    if (dto.name !== undefined) tool.name = dto.name;
    if (dto.url !== undefined) tool.url = dto.url;
    this.apply(tool, dto);
    const saved = await this.persist(tool);
    await this.events.emit({ kind: 'tool', id, action: 'updated' });
    return this.toResponse(saved);
  }

  async remove(id: string): Promise<void> {
    if (!(await this.tools.delete(id))) throw notFound('tool', id);
    await this.events.emit({ kind: 'tool', id, action: 'deleted' });
  }

  async setActive(id: string, active: boolean): Promise<ToolResponse> {
    const tool = await this.find(id);
    tool.isActive = active;
    const saved = await this.tools.save(tool);
    await this.events.emit({ kind: 'tool', id, action: active ? 'activated' : 'deactivated' });
    return this.toResponse(saved);
  }

  toResponse(tool: ToolEntity): ToolResponse {
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

  private async find(id: string): Promise<ToolEntity> {
    const tool = await this.tools.findById(id);
    if (!tool) throw notFound('tool', id);
    return tool;
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

  private async persist(tool: ToolEntity): Promise<ToolEntity> {
    const existing = await this.tools.findByName(tool.name);
    if (existing && existing.id !== tool.id) throw conflict(`a tool named ${JSON.stringify(tool.name)} already exists`);
    try {
      return await this.tools.save(tool);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`a tool named ${JSON.stringify(tool.name)} already exists`);
      throw error;
    }
  }
}
