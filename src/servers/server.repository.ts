import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CatalogRepository } from '#app/database/catalog.repository.js';
import { ServerEntity } from './server.entity.js';

export interface ServerAssociations {
  tools: Map<string, string[]>;
  resources: Map<string, string[]>;
  prompts: Map<string, string[]>;
}

/** The only code that reads or writes the `servers` table and its join tables. */
@Injectable()
export class ServerRepository extends CatalogRepository<ServerEntity> {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {
    super(dataSource, ServerEntity, 'name', ['tools', 'resources', 'prompts']);
  }

  /** Every server's associated item ids, read straight from the join tables (server id → item ids). */
  async findAllAssociations(): Promise<ServerAssociations> {
    const read = async (table: string, column: string): Promise<Map<string, string[]>> => {
      const rows: Array<{ server_id: string; item_id: string }> = await this.dataSource.query(
        `SELECT server_id, ${column} AS item_id FROM ${table}`,
      );
      const byServer = new Map<string, string[]>();
      for (const row of rows) {
        const list = byServer.get(row.server_id) ?? [];
        list.push(row.item_id);
        byServer.set(row.server_id, list);
      }
      return byServer;
    };
    return {
      tools: await read('server_tools', 'tool_id'),
      resources: await read('server_resources', 'resource_id'),
      prompts: await read('server_prompts', 'prompt_id'),
    };
  }
}
