import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';

/** A resource in the catalog: stored text or binary content, or a URI template. */
@Entity('resources')
export class ResourceEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 }) id!: string;
  @Column({ type: 'varchar', length: 2048, unique: true }) uri!: string;
  @Column({ type: 'varchar', length: 255 }) name!: string;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ name: 'mime_type', type: 'varchar', length: 255, nullable: true }) mimeType!: string | null;
  @Column({ name: 'uri_template', type: 'text', nullable: true }) uriTemplate!: string | null;
  @Column({ name: 'content_text', type: 'text', nullable: true }) contentText!: string | null;
  /** Binary content, base64-encoded (one portable column type for SQLite and PostgreSQL). */
  @Column({ name: 'content_blob', type: 'text', nullable: true }) contentBlob!: string | null;
  /** Size of the content in bytes. */
  @Column({ type: 'integer', nullable: true }) size!: number | null;
  @Column({ type: 'json' }) tags!: string[];
  @Column({ name: 'is_active', type: 'boolean' }) isActive!: boolean;
  @Column({ name: 'gateway_id', type: 'varchar', length: 32, nullable: true }) gatewayId!: string | null;
  @CreateDateColumn({ name: 'created_at' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt!: Date;
  /** Bumped by every save; with the id it names one revision of the row. */
  @VersionColumn() version!: number;
}
