import { Table, TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Federation: the `gateways` table (upstream MCP servers) and the upstream's own name of a
 * federated prompt (tools already have `original_name`).
 */
export class Gateways1764200000000 implements MigrationInterface {
  name = 'Gateways1764200000000';

  async up(q: QueryRunner): Promise<void> {
    const postgres = q.connection.driver.options.type === 'postgres';
    const stamp = postgres ? 'timestamptz' : 'datetime';
    await q.createTable(
      new Table({
        name: 'gateways',
        columns: [
          { name: 'id', type: 'varchar', length: '32', isPrimary: true },
          { name: 'name', type: 'varchar', length: '255', isUnique: true },
          { name: 'url', type: 'text' },
          { name: 'description', type: 'text', isNullable: true },
          { name: 'transport', type: 'varchar', length: '16' },
          { name: 'prefix', type: 'varchar', length: '64', isNullable: true },
          { name: 'auth_type', type: 'varchar', length: '16', isNullable: true },
          { name: 'auth_value', type: 'text', isNullable: true },
          { name: 'passthrough_headers', type: 'json' },
          { name: 'tags', type: 'json' },
          { name: 'is_active', type: 'boolean', default: postgres ? 'true' : 1 },
          { name: 'reachable', type: 'boolean', default: postgres ? 'true' : 1 },
          { name: 'last_seen', type: 'bigint', isNullable: true },
          { name: 'last_error', type: 'text', isNullable: true },
          { name: 'protocol_version', type: 'varchar', length: '32', isNullable: true },
          { name: 'server_info', type: 'json', isNullable: true },
          { name: 'capabilities', type: 'json', isNullable: true },
          { name: 'created_at', type: stamp, default: 'CURRENT_TIMESTAMP' },
          { name: 'updated_at', type: stamp, default: 'CURRENT_TIMESTAMP' },
          { name: 'version', type: 'integer', default: 1 },
        ],
      }),
    );
    await q.addColumn('prompts', new TableColumn({ name: 'original_name', type: 'varchar', length: '255', isNullable: true }));
    for (const table of ['resources', 'prompts']) {
      await q.query(`CREATE INDEX idx_${table}_gateway_id ON ${table} (gateway_id)`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['resources', 'prompts']) await q.query(`DROP INDEX idx_${table}_gateway_id`);
    await q.dropColumn('prompts', 'original_name');
    await q.dropTable('gateways');
  }
}
