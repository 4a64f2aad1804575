import { Table, TableForeignKey, TableIndex, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';

/**
 * The catalog: tools, resources, prompts, virtual servers and their join tables.
 * Written with TypeORM's schema builder so the one migration runs on SQLite and PostgreSQL.
 */
export class InitialCatalog1764000000000 implements MigrationInterface {
  name = 'InitialCatalog1764000000000';

  async up(q: QueryRunner): Promise<void> {
    const c = columns(q);
    await q.createTable(
      new Table({
        name: 'tools',
        columns: [
          c.id(),
          c.str('name', 255, { isUnique: true }),
          c.str('original_name', 255, { isNullable: true }),
          c.text('url', true),
          c.text('description', true),
          c.str('integration_type', 16),
          c.str('request_type', 8),
          c.json('headers', true),
          c.json('input_schema'),
          c.json('output_schema', true),
          c.json('annotations', true),
          c.str('auth_type', 16, { isNullable: true }),
          c.text('auth_value', true),
          c.json('tags'),
          { name: 'timeout_ms', type: 'integer', isNullable: true },
          c.bool('is_active'),
          c.str('gateway_id', 32, { isNullable: true }),
          ...c.timestamps(),
        ],
      }),
    );
    await q.createIndex('tools', new TableIndex({ name: 'idx_tools_gateway_id', columnNames: ['gateway_id'] }));

    await q.createTable(
      new Table({
        name: 'resources',
        columns: [
          c.id(),
          c.str('uri', 2048, { isUnique: true }),
          c.str('name', 255),
          c.text('description', true),
          c.str('mime_type', 255, { isNullable: true }),
          c.text('uri_template', true),
          c.text('content_text', true),
          c.text('content_blob', true),
          { name: 'size', type: 'integer', isNullable: true },
          c.json('tags'),
          c.bool('is_active'),
          c.str('gateway_id', 32, { isNullable: true }),
          ...c.timestamps(),
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'prompts',
        columns: [
          c.id(),
          c.str('name', 255, { isUnique: true }),
          c.text('description', true),
          c.text('template'),
          c.json('arguments'),
          c.json('tags'),
          c.bool('is_active'),
          c.str('gateway_id', 32, { isNullable: true }),
          ...c.timestamps(),
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'servers',
        columns: [
          c.id(),
          c.str('name', 255, { isUnique: true }),
          c.text('description', true),
          c.text('icon', true),
          c.json('tags'),
          c.bool('is_active'),
          ...c.timestamps(),
        ],
      }),
    );

    for (const [table, column, target] of [
      ['server_tools', 'tool_id', 'tools'],
      ['server_resources', 'resource_id', 'resources'],
      ['server_prompts', 'prompt_id', 'prompts'],
    ] as const) {
      await q.createTable(
        new Table({
          name: table,
          columns: [
            { name: 'server_id', type: 'varchar', length: '32', isPrimary: true },
            { name: column, type: 'varchar', length: '32', isPrimary: true },
          ],
          foreignKeys: [
            new TableForeignKey({ columnNames: ['server_id'], referencedTableName: 'servers', referencedColumnNames: ['id'], onDelete: 'CASCADE' }),
            new TableForeignKey({ columnNames: [column], referencedTableName: target, referencedColumnNames: ['id'], onDelete: 'CASCADE' }),
          ],
        }),
      );
      await q.createIndex(table, new TableIndex({ name: `idx_${table}_${column}`, columnNames: [column] }));
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['server_prompts', 'server_resources', 'server_tools', 'servers', 'prompts', 'resources', 'tools']) {
      await q.dropTable(table);
    }
  }
}

/** Column builders that pick the right type name per driver. */
function columns(q: QueryRunner) {
  const postgres = q.connection.driver.options.type === 'postgres';
  return {
    id: (): TableColumnOptions => ({ name: 'id', type: 'varchar', length: '32', isPrimary: true }),
    str: (name: string, length: number, extra: Partial<TableColumnOptions> = {}): TableColumnOptions => ({
      name,
      type: 'varchar',
      length: String(length),
      ...extra,
    }),
    text: (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable }),
    json: (name: string, nullable = false): TableColumnOptions => ({ name, type: 'json', isNullable: nullable }),
    bool: (name: string): TableColumnOptions => ({ name, type: 'boolean', default: postgres ? 'true' : 1 }),
    timestamps: (): TableColumnOptions[] =>
      ['created_at', 'updated_at'].map((name) => ({
        name,
        type: postgres ? 'timestamptz' : 'datetime',
        default: 'CURRENT_TIMESTAMP',
      })),
  };
}
