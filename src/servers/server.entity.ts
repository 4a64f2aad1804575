import { Column, CreateDateColumn, Entity, JoinTable, ManyToMany, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';
import { PromptEntity } from '#app/prompts/prompt.entity.js';
import { ResourceEntity } from '#app/resources/resource.entity.js';
import { ToolEntity } from '#app/tools/tool.entity.js';

/**
 * A virtual server: a named selection of catalog items served at /servers/{id}/…
 * The join tables cascade on delete, so deleting a tool also removes it from every server.
 */
@Entity('servers')
export class ServerEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 }) id!: string;
  @Column({ type: 'varchar', length: 255, unique: true }) name!: string;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'text', nullable: true }) icon!: string | null;
  @Column({ type: 'json' }) tags!: string[];
  @Column({ name: 'is_active', type: 'boolean' }) isActive!: boolean;
  @CreateDateColumn({ name: 'created_at' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt!: Date;
  /** Bumped by every save; with the id it names one revision of the row. */
  @VersionColumn() version!: number;

  @ManyToMany(() => ToolEntity, { onDelete: 'CASCADE' })
  @JoinTable({
    name: 'server_tools',
    joinColumn: { name: 'server_id', referencedColumnName: 'id' },
    inverseJoinColumn: { name: 'tool_id', referencedColumnName: 'id' },
  })
  tools!: ToolEntity[];

  @ManyToMany(() => ResourceEntity, { onDelete: 'CASCADE' })
  @JoinTable({
    name: 'server_resources',
    joinColumn: { name: 'server_id', referencedColumnName: 'id' },
    inverseJoinColumn: { name: 'resource_id', referencedColumnName: 'id' },
  })
  resources!: ResourceEntity[];

  @ManyToMany(() => PromptEntity, { onDelete: 'CASCADE' })
  @JoinTable({
    name: 'server_prompts',
    joinColumn: { name: 'server_id', referencedColumnName: 'id' },
    inverseJoinColumn: { name: 'prompt_id', referencedColumnName: 'id' },
  })
  prompts!: PromptEntity[];
}
