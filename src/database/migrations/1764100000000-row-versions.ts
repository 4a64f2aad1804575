import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

const TABLES = ['tools', 'resources', 'prompts', 'servers'];

/**
 * A version counter on every catalog row, bumped by each save. Timestamps alone cannot tell two
 * edits apart within one second on SQLite, and caches keyed by revision must never serve stale.
 */
export class RowVersions1764100000000 implements MigrationInterface {
  name = 'RowVersions1764100000000';

  async up(q: QueryRunner): Promise<void> {
    for (const table of TABLES) {
      await q.addColumn(table, new TableColumn({ name: 'version', type: 'integer', default: 1 }));
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of TABLES) await q.dropColumn(table, 'version');
  }
}
