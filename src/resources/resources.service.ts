import { Inject, Injectable } from '@nestjs/common';
import { CatalogEvents } from '#app/catalog/catalog-events.js';
import { CatalogItemService } from '#app/catalog/catalog-item.service.js';
import { newId } from '#app/common/ids.js';
import { unprocessable } from '#app/common/validation.js';
import type { CreateResourceDto, ResourceFieldsDto, ResourceResponse, UpdateResourceDto } from './dto/resource.dto.js';
import { ResourceEntity } from './resource.entity.js';
import { ResourceRepository } from './resource.repository.js';

/** Admin use cases for resources: create, list, read, update, delete, (de)activate. */
@Injectable()
export class ResourcesService extends CatalogItemService<ResourceEntity, ResourceResponse> {
  constructor(@Inject(ResourceRepository) resources: ResourceRepository, @Inject(CatalogEvents) events: CatalogEvents) {
    super('resource', resources, events, (r) => `with uri ${JSON.stringify(r.uri)}`);
  }

  async create(dto: CreateResourceDto): Promise<ResourceResponse> {
    const resource = new ResourceEntity();
    Object.assign(resource, {
      id: newId(),
      uri: dto.uri,
      name: dto.name,
      description: null,
      mimeType: null,
      uriTemplate: null,
      contentText: null,
      contentBlob: null,
      size: null,
      tags: [],
      isActive: true,
      gatewayId: null,
    });
    this.apply(resource, dto);
    return this.commit(resource, 'created');
  }

  async update(id: string, dto: UpdateResourceDto): Promise<ResourceResponse> {
    const resource = await this.find(id);
    if (dto.uri !== undefined) resource.uri = dto.uri;
    if (dto.name !== undefined) resource.name = dto.name;
    this.apply(resource, dto);
    return this.commit(resource, 'updated');
  }

  /** Lists leave the content out (it can be large). */
  protected override toListItem(resource: ResourceEntity): ResourceResponse {
    return this.toResponse(resource, false);
  }

  override toResponse(resource: ResourceEntity, withContent = true): ResourceResponse {
    return {
      id: resource.id,
      uri: resource.uri,
      name: resource.name,
      description: resource.description,
      mime_type: resource.mimeType,
      uri_template: resource.uriTemplate,
      ...(withContent && resource.contentText !== null ? { content: resource.contentText } : {}),
      ...(withContent && resource.contentBlob !== null ? { blob: resource.contentBlob } : {}),
      size: resource.size,
      tags: resource.tags,
      gateway_id: resource.gatewayId,
      is_active: resource.isActive,
      enabled: resource.isActive,
      created_at: resource.createdAt.toISOString(),
      updated_at: resource.updatedAt.toISOString(),
    };
  }

  private apply(resource: ResourceEntity, dto: ResourceFieldsDto): void {
    if (dto.content !== undefined && dto.blob !== undefined) {
      throw unprocessable([{ field: 'content', message: 'send either content (text) or blob (base64), not both' }]);
    }
    if (dto.content !== undefined) {
      resource.contentText = dto.content;
      resource.contentBlob = null;
      resource.size = Buffer.byteLength(dto.content, 'utf8');
    }
    if (dto.blob !== undefined) {
      resource.contentBlob = dto.blob;
      resource.contentText = null;
      resource.size = Buffer.from(dto.blob, 'base64').length;
    }
    if (dto.description !== undefined) resource.description = dto.description;
    if (dto.mime_type !== undefined) resource.mimeType = dto.mime_type;
    if (dto.uri_template !== undefined) resource.uriTemplate = dto.uri_template;
    if (dto.tags !== undefined) resource.tags = [...new Set(dto.tags)];
    if (resource.contentText === null && resource.contentBlob === null && !resource.uriTemplate) {
      throw unprocessable([{ field: 'content', message: 'content (or blob) is required unless uri_template is set' }]);
    }
  }

}
