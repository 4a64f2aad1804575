import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';

export interface PromptArgument {
  name: string;
  description?: string;
  required?: boolean;
}

/** A prompt template in the catalog. */
@Entity('prompts')
export class PromptEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 }) id!: string;
  @Column({ type: 'varchar', length: 255, unique: true }) name!: string;
  /** The upstream's own name for a federated prompt; null for stored prompts. */
  @Column({ name: 'original_name', type: 'varchar', length: 255, nullable: true }) originalName!: string | null;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'text' }) template!: string;
  @Column({ type: 'json' }) arguments!: PromptArgument[];
  @Column({ type: 'json' }) tags!: string[];
  @Column({ name: 'is_active', type: 'boolean' }) isActive!: boolean;
  @Column({ name: 'gateway_id', type: 'varchar', length: 32, nullable: true }) gatewayId!: string | null;
  @CreateDateColumn({ name: 'created_at' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt!: Date;
  /** Bumped by every save; with the id it names one revision of the row. */
  @VersionColumn() version!: number;
}
