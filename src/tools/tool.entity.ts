import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';
import type { AuthType } from '#app/auth/dto/auth-values.dto.js';

export const INTEGRATION_TYPES = ['REST', 'MCP'] as const;
export type IntegrationType = (typeof INTEGRATION_TYPES)[number];
export const REQUEST_TYPES = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

/** A tool in the catalog: a REST endpoint now, a federated MCP tool once gateways exist. */
@Entity('tools')
export class ToolEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 }) id!: string;
  @Column({ type: 'varchar', length: 255, unique: true }) name!: string;
  /** The upstream's own name for a federated tool; null for REST tools. */
  @Column({ name: 'original_name', type: 'varchar', length: 255, nullable: true }) originalName!: string | null;
  @Column({ type: 'text', nullable: true }) url!: string | null;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ name: 'integration_type', type: 'varchar', length: 16 }) integrationType!: IntegrationType;
  @Column({ name: 'request_type', type: 'varchar', length: 8 }) requestType!: RequestType;
  @Column({ type: 'json', nullable: true }) headers!: Record<string, string> | null;
  @Column({ name: 'input_schema', type: 'json' }) inputSchema!: Record<string, unknown>;
  @Column({ name: 'output_schema', type: 'json', nullable: true }) outputSchema!: Record<string, unknown> | null;
  @Column({ type: 'json', nullable: true }) annotations!: Record<string, unknown> | null;
  @Column({ name: 'auth_type', type: 'varchar', length: 16, nullable: true }) authType!: AuthType | null;
  /** The credentials, sealed with AUTH_ENCRYPTION_SECRET (see `SecretCipher`). */
  @Column({ name: 'auth_value', type: 'text', nullable: true }) authValue!: string | null;
  @Column({ type: 'json' }) tags!: string[];
  @Column({ name: 'timeout_ms', type: 'integer', nullable: true }) timeoutMs!: number | null;
  @Column({ name: 'is_active', type: 'boolean' }) isActive!: boolean;
  @Column({ name: 'gateway_id', type: 'varchar', length: 32, nullable: true }) gatewayId!: string | null;
  @CreateDateColumn({ name: 'created_at' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt!: Date;
  /** Bumped by every save; with the id it names one revision of the row. */
  @VersionColumn() version!: number;
}
