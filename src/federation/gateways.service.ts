import { BadGatewayException, GatewayTimeoutException, Inject, Injectable, Logger } from '@nestjs/common';
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { Span } from 'nestjs-otel';
import type { AuthValuesDto } from '#app/auth/dto/auth-values.dto.js';
import { StoredCredentials } from '#app/auth/stored-credentials.js';
import { CatalogEvents } from '#app/catalog/catalog-events.js';
import { CatalogItemService } from '#app/catalog/catalog-item.service.js';
import { toGatewayEntry } from '#app/catalog/catalog-snapshot.js';
import { conflict } from '#app/common/http-errors.js';
import { newId } from '#app/common/ids.js';
import { isUniqueViolation } from '#app/database/database-errors.js';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import type { CreateGatewayDto, GatewayFieldsDto, GatewayResponse, UpdateGatewayDto } from './dto/gateway.dto.js';
import { discoverUpstream, effectivePrefix, itemsFromOffer, type UpstreamOffer } from './gateway-discovery.js';
import { GatewayEntity } from './gateway.entity.js';
import { GatewayRepository } from './gateway.repository.js';
import { UpstreamClientPool } from './upstream-client.pool.js';
import { UpstreamUnavailableError, describeConnectError } from './upstream-session.js';

/** Fields whose change means the upstream must be discovered again. */
const CONNECTION_FIELDS = ['url', 'transport', 'authType', 'authValue', 'prefix', 'name'] as const;

/**
 * Admin use cases for gateways: registration (connect, discover, store the gateway and its items
 * in one transaction), edits, refresh, (de)activation and deletion with its items.
 */
@Injectable()
export class GatewaysService extends CatalogItemService<GatewayEntity, GatewayResponse> {
  private readonly log = new Logger('GatewaysService');

  constructor(
    @Inject(GatewayRepository) private readonly gateways: GatewayRepository,
    @Inject(CatalogEvents) events: CatalogEvents,
    @Inject(StoredCredentials) private readonly credentials: StoredCredentials,
    @Inject(UpstreamClientPool) private readonly pool: UpstreamClientPool,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super('gateway', gateways, events, (g) => `named ${JSON.stringify(g.name)}`);
  }

  async create(dto: CreateGatewayDto): Promise<GatewayResponse> {
    if (await this.gateways.findByKey(dto.name)) throw conflict(`a gateway named ${JSON.stringify(dto.name)} already exists`);
    const gateway = Object.assign(new GatewayEntity(), {
      id: newId(),
      name: dto.name,
      url: dto.url,
      description: null,
      transport: 'STREAMABLEHTTP',
      prefix: null,
      authType: null,
      authValue: null,
      passthroughHeaders: [],
      tags: [],
      isActive: true,
      reachable: true,
      lastSeen: null,
      lastError: null,
      version: 1,
    } satisfies Partial<GatewayEntity>);
    this.apply(gateway, dto);
    return this.sync(gateway, 'created');
  }

  async update(id: string, dto: UpdateGatewayDto): Promise<GatewayResponse> {
    const gateway = await this.find(id);
    const before = { ...gateway };
    if (dto.name !== undefined) gateway.name = dto.name;
    if (dto.url !== undefined) gateway.url = dto.url;
    this.apply(gateway, dto);
    const reconnect = CONNECTION_FIELDS.some((f) => gateway[f] !== before[f]);
    if (!reconnect) return this.commit(gateway, 'updated');
    if (gateway.name !== before.name) {
      const other = await this.gateways.findByKey(gateway.name);
      if (other && other.id !== gateway.id) throw conflict(`a gateway named ${JSON.stringify(gateway.name)} already exists`);
    }
    return this.sync(gateway, 'updated');
  }

  /** Re-discovers the upstream's tools, resources and prompts now (POST /gateways/{id}/tools/refresh). */
  @Span('gateway.refresh')
  async refresh(id: string): Promise<{ gateway: GatewayResponse; tools: number; resources: number; prompts: number }> {
    const gateway = await this.find(id);
    const response = await this.sync(gateway, 'updated');
    const items = await this.gateways.findItems(id);
    return { gateway: response, tools: items.tools.length, resources: items.resources.length, prompts: items.prompts.length };
  }

  override toResponse(g: GatewayEntity): GatewayResponse {
    return {
      id: g.id,
      name: g.name,
      url: g.url,
      description: g.description,
      transport: g.transport,
      prefix: effectivePrefix(g),
      auth_type: g.authType,
      auth: this.credentials.mask(g),
      passthrough_headers: g.passthroughHeaders,
      tags: g.tags,
      is_active: g.isActive,
      enabled: g.isActive,
      reachable: g.reachable,
      status: !g.isActive ? 'inactive' : g.reachable ? 'active' : 'unreachable',
      last_seen: g.lastSeen === null ? null : new Date(g.lastSeen).toISOString(),
      last_error: g.lastError,
      protocol_version: g.protocolVersion,
      server_info: g.serverInfo,
      capabilities: g.capabilities,
      created_at: g.createdAt.toISOString(),
      updated_at: g.updatedAt.toISOString(),
    };
  }

  /**
   * Connects to the upstream, discovers what it offers, and stores the gateway with its items in
   * one transaction. Nothing is written when the upstream cannot be reached or names clash.
   */
  private async sync(gateway: GatewayEntity, action: 'created' | 'updated'): Promise<GatewayResponse> {
    const offer = await this.discover(gateway);
    const existing = action === 'created' ? { tools: [], resources: [], prompts: [] } : await this.gateways.findItems(gateway.id);
    const items = itemsFromOffer(gateway, offer, this.config.federation.nameSeparator, existing);
    const clashes = await this.gateways.findClashes(gateway.id, {
      tools: items.tools.map((t) => t.name),
      prompts: items.prompts.map((p) => p.name),
      uris: items.resources.map((r) => r.uri),
    });
    if (clashes.length > 0) {
      const shown = clashes.slice(0, 20).join(', ') + (clashes.length > 20 ? `, and ${clashes.length - 20} more` : '');
      throw conflict(`names already taken by other catalog items: ${shown}; set a different prefix`, clashes);
    }
    gateway.protocolVersion = offer.protocolVersion;
    gateway.serverInfo = offer.serverInfo;
    gateway.capabilities = offer.capabilities;
    gateway.reachable = true;
    gateway.lastError = null;
    gateway.lastSeen = Date.now();
    let saved: GatewayEntity;
    try {
      saved = await this.gateways.saveWithItems(gateway, items);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw conflict('a name or URI was taken while the gateway was being stored; retry');
      }
      throw error;
    }
    this.events.emit({ kind: 'gateway', id: saved.id, action });
    this.log.log(`${action} gateway ${saved.name}: ${items.tools.length} tools, ${items.resources.length} resources, ${items.prompts.length} prompts (${offer.protocolVersion ?? 'unknown version'})`);
    return this.toResponse(saved);
  }

  @Span('gateway.discover')
  private async discover(gateway: GatewayEntity): Promise<UpstreamOffer> {
    const session = this.pool.detached(toGatewayEntry(gateway));
    const timeoutMs = this.config.federation.connectTimeoutMs;
    try {
      return await discoverUpstream(session, timeoutMs);
    } catch (error) {
      if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) {
        throw new GatewayTimeoutException({ statusCode: 504, error: 'Gateway Timeout', message: `upstream ${gateway.url} did not answer within ${timeoutMs} ms` });
      }
      const reason = error instanceof UpstreamUnavailableError ? error.message : describeConnectError(error);
      throw new BadGatewayException({
        statusCode: 502,
        error: 'Bad Gateway',
        message: `could not register ${gateway.url}: not reachable or not an MCP server (${reason})`,
      });
    } finally {
      await session.close();
    }
  }

  private apply(gateway: GatewayEntity, dto: GatewayFieldsDto): void {
    if (dto.description !== undefined) gateway.description = dto.description;
    if (dto.transport !== undefined) gateway.transport = dto.transport;
    if (dto.prefix !== undefined) gateway.prefix = dto.prefix;
    if (dto.passthrough_headers !== undefined) gateway.passthroughHeaders = [...new Set(dto.passthrough_headers)];
    if (dto.tags !== undefined) gateway.tags = [...new Set(dto.tags)];
    Object.assign(gateway, this.credentials.seal(authOf(dto), gateway));
  }
}

/** The seed's flat credential fields, or the nested `auth` object; undefined keeps what is stored. */
function authOf(dto: GatewayFieldsDto): AuthValuesDto | null | undefined {
  if (dto.auth !== undefined) return dto.auth;
  if (dto.auth_type === undefined) return undefined;
  if (dto.auth_type === null || dto.auth_type === '') return null;
  return {
    auth_type: dto.auth_type,
    username: dto.auth_username,
    password: dto.auth_password,
    token: dto.auth_token,
    auth_header_key: dto.auth_header_key,
    auth_header_value: dto.auth_header_value,
  };
}
