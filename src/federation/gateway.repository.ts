import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { CatalogRepository } from '#app/database/catalog.repository.js';
import { PromptEntity } from '#app/prompts/prompt.entity.js';
import { ResourceEntity } from '#app/resources/resource.entity.js';
import { ToolEntity } from '#app/tools/tool.entity.js';
import { GatewayEntity } from './gateway.entity.js';

/** A gateway's catalog items, as discovery produced them or as they are stored. */
export interface GatewayItems {
  tools: ToolEntity[];
  resources: ResourceEntity[];
  prompts: PromptEntity[];
}

/** The health fields the leader writes, without touching anything an admin edits. */
export type GatewayHealthUpdate = Pick<GatewayEntity, 'reachable' | 'lastError'> & { lastSeen?: number };

/**
 * The only code that reads or writes the `gateways` table. A gateway and its items are written
 * together in one transaction, so a failed registration or refresh leaves nothing half-stored.
 */
@Injectable()
export class GatewayRepository extends CatalogRepository<GatewayEntity> {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {
    super(dataSource, GatewayEntity, 'name');
  }

  findAll(): Promise<GatewayEntity[]> {
    return this.repo.find();
  }

  async findItems(gatewayId: string): Promise<GatewayItems> {
    const m = this.dataSource.manager;
    const [tools, resources, prompts] = await Promise.all([
      m.findBy(ToolEntity, { gatewayId }),
      m.findBy(ResourceEntity, { gatewayId }),
      m.findBy(PromptEntity, { gatewayId }),
    ]);
    return { tools, resources, prompts };
  }

  /**
   * Which of the given names (tools, prompts) and URIs (resources) are already taken by items
   * that do not belong to `gatewayId`.
   */
  async findClashes(gatewayId: string, names: { tools: string[]; prompts: string[]; uris: string[] }): Promise<string[]> {
    const m = this.dataSource.manager;
    const taken = async <T extends { gatewayId: string | null }>(entity: new () => T, column: 'name' | 'uri', values: string[]) => {
      const clashes: string[] = [];
      // Chunked: SQLite caps bound parameters, and an upstream may offer thousands of items.
      for (let i = 0; i < values.length; i += 500) {
        const chunk = values.slice(i, i + 500);
        const rows = await m
          .createQueryBuilder(entity, 'i')
          .select([`i.${column}`, 'i.gatewayId'])
          .where(`i.${column} IN (:...chunk)`, { chunk })
          .getMany();
        for (const row of rows) if (row.gatewayId !== gatewayId) clashes.push(String((row as Record<string, unknown>)[column]));
      }
      return clashes;
    };
    return [
      ...(await taken(ToolEntity, 'name', names.tools)).map((n) => `tool ${n}`),
      ...(await taken(PromptEntity, 'name', names.prompts)).map((n) => `prompt ${n}`),
      ...(await taken(ResourceEntity, 'uri', names.uris)).map((n) => `resource ${n}`),
    ];
  }

  /**
   * Saves the gateway and replaces its items in one transaction: rows in `items` are inserted or
   * updated (ids kept, so virtual-server associations survive), stored rows not in it are deleted.
   */
  async saveWithItems(gateway: GatewayEntity, items: GatewayItems): Promise<GatewayEntity> {
    return this.dataSource.transaction(async (m) => {
      const saved = await m.save(GatewayEntity, gateway);
      await this.replace(m, ToolEntity, gateway.id, items.tools);
      await this.replace(m, ResourceEntity, gateway.id, items.resources);
      await this.replace(m, PromptEntity, gateway.id, items.prompts);
      return saved;
    });
  }

  /** Deletes the gateway with its items (their virtual-server links go by foreign-key cascade). */
  override async delete(id: string): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      for (const entity of [ToolEntity, ResourceEntity, PromptEntity] as const) await m.delete(entity, { gatewayId: id });
      return ((await m.delete(GatewayEntity, { id })).affected ?? 0) > 0;
    });
  }

  /** Writes health fields only; returns false when the gateway is gone. */
  async updateHealth(id: string, update: GatewayHealthUpdate): Promise<boolean> {
    const result = await this.repo.update({ id }, update);
    return (result.affected ?? 0) > 0;
  }

  private async replace<T extends { id: string; gatewayId: string | null }>(m: EntityManager, entity: new () => T, gatewayId: string, rows: T[]): Promise<void> {
    const stored = await m.find(entity, { where: { gatewayId } as never, select: { id: true } as never });
    const keep = new Set(rows.map((r) => r.id));
    const gone = stored.map((r) => r.id).filter((id) => !keep.has(id));
    for (let i = 0; i < gone.length; i += 500) await m.delete(entity, gone.slice(i, i + 500));
    for (let i = 0; i < rows.length; i += 200) await m.save(entity, rows.slice(i, i + 200) as never);
  }
}
