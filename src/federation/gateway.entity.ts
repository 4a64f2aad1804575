import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';
import type { AuthType } from '#app/auth/dto/auth-values.dto.js';

export const GATEWAY_TRANSPORTS = ['STREAMABLEHTTP', 'SSE', 'WEBSOCKET'] as const;
export type GatewayTransport = (typeof GATEWAY_TRANSPORTS)[number];

/**
 * A federated upstream MCP server. Its tools, resources and prompts are rows of the catalog
 * tables with `gateway_id` set; the health leader keeps `reachable`, `last_seen` and
 * `last_error` current.
 */
@Entity('gateways')
export class GatewayEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 }) id!: string;
  @Column({ type: 'varchar', length: 255, unique: true }) name!: string;
  @Column({ type: 'text' }) url!: string;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'varchar', length: 16 }) transport!: GatewayTransport;
  /** Prefix of item names; null means "derived from the name", '' means "the upstream's own names". */
  @Column({ type: 'varchar', length: 64, nullable: true }) prefix!: string | null;
  @Column({ name: 'auth_type', type: 'varchar', length: 16, nullable: true }) authType!: AuthType | null;
  /** The credentials, sealed with AUTH_ENCRYPTION_SECRET (see `SecretCipher`). */
  @Column({ name: 'auth_value', type: 'text', nullable: true }) authValue!: string | null;
  /** Downstream request headers forwarded to this upstream, lower-cased. */
  @Column({ name: 'passthrough_headers', type: 'json' }) passthroughHeaders!: string[];
  @Column({ type: 'json' }) tags!: string[];
  @Column({ name: 'is_active', type: 'boolean' }) isActive!: boolean;
  @Column({ type: 'boolean' }) reachable!: boolean;
  @Column({ name: 'last_seen', type: 'bigint', nullable: true, transformer: { to: (v: number | null) => v, from: (v: string | number | null) => (v === null ? null : Number(v)) } })
  lastSeen!: number | null;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  /** What discovery learnt: negotiated protocol version, server info and capabilities. */
  @Column({ name: 'protocol_version', type: 'varchar', length: 32, nullable: true }) protocolVersion!: string | null;
  @Column({ name: 'server_info', type: 'json', nullable: true }) serverInfo!: Record<string, unknown> | null;
  @Column({ type: 'json', nullable: true }) capabilities!: Record<string, unknown> | null;
  @CreateDateColumn({ name: 'created_at' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt!: Date;
  @VersionColumn() version!: number;
}
