import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, IsUrl, Matches, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import { AUTH_TYPES, AuthValuesDto, type AuthType } from '#app/auth/dto/auth-values.dto.js';
import { Tags } from '#app/common/tags.decorator.js';
import { GATEWAY_TRANSPORTS, type GatewayTransport } from '../gateway.entity.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A name prefix: empty (the upstream's own names) or a tool-name-safe word. */
export const GATEWAY_PREFIX = /^(|[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})$/;
const upper = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.toUpperCase() : value);
const lowerList = ({ value }: { value: unknown }) => (Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? v.toLowerCase() : v)) : value);

/**
 * Fields shared by create and update (PUT merges). Credentials come flat, as the seed system
 * takes them (`auth_type` with `auth_username`/`auth_password`, `auth_token`, or
 * `auth_header_key`/`auth_header_value`), or nested in `auth` as tools take them.
 */
export class GatewayFieldsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string | null;

  @ApiPropertyOptional({ enum: GATEWAY_TRANSPORTS, default: 'STREAMABLEHTTP' })
  @IsOptional()
  @Transform(upper)
  @IsIn(GATEWAY_TRANSPORTS, { message: `transport must be one of: ${GATEWAY_TRANSPORTS.join(', ')}` })
  transport?: GatewayTransport;

  @ApiPropertyOptional({
    nullable: true,
    description: 'Prefix of the names of this gateway\'s tools and prompts. Omitted or null: derived from the name; "": the upstream\'s own names',
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsString()
  @Matches(GATEWAY_PREFIX, { message: 'prefix must be empty, or up to 64 letters, digits, "_", "-", "." not starting with "-" or "."' })
  prefix?: string | null;

  @ApiPropertyOptional({ enum: AUTH_TYPES, nullable: true })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null && v !== '')
  @IsIn(AUTH_TYPES, { message: `auth_type must be one of: ${AUTH_TYPES.join(', ')}` })
  auth_type?: AuthType | '' | null;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1024) auth_username?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4096) auth_password?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(8192) auth_token?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(HEADER_NAME, { message: 'auth_header_key must be a valid HTTP header name' }) auth_header_key?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(8192) auth_header_value?: string;

  @ApiPropertyOptional({ type: AuthValuesDto, nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AuthValuesDto)
  auth?: AuthValuesDto | null;

  @ApiPropertyOptional({ type: [String], example: ['x-tenant-id'], description: 'Downstream request headers forwarded to the upstream' })
  @IsOptional()
  @Transform(lowerList)
  @IsArray({ message: 'passthrough_headers must be a list of header names' })
  @ArrayMaxSize(64)
  @Matches(HEADER_NAME, { each: true, message: 'passthrough_headers must hold valid HTTP header names' })
  passthrough_headers?: string[];

  @Tags() tags?: string[];
}

export class CreateGatewayDto extends GatewayFieldsDto {
  @ApiProperty({ example: 'weather' })
  @IsString({ message: 'name is required' })
  @Matches(/^\S(.{0,253}\S)?$/, { message: 'name must be 1-255 characters without leading or trailing spaces' })
  name!: string;

  @ApiProperty({ example: 'http://weather.internal:9000/mcp' })
  @IsUrl({ protocols: ['http', 'https', 'ws', 'wss'], require_protocol: true, require_tld: false }, { message: 'url must be an http(s) or ws(s) URL' })
  @MaxLength(4096)
  url!: string;
}

export class UpdateGatewayDto extends GatewayFieldsDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Matches(/^\S(.{0,253}\S)?$/, { message: 'name must be 1-255 characters without leading or trailing spaces' })
  name?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https', 'ws', 'wss'], require_protocol: true, require_tld: false }, { message: 'url must be an http(s) or ws(s) URL' })
  @MaxLength(4096)
  url?: string;
}

/** A gateway as the API returns it: snake_case, credentials masked, health included. */
export interface GatewayResponse {
  id: string;
  name: string;
  url: string;
  description: string | null;
  transport: GatewayTransport;
  /** The prefix in effect (derived from the name unless one was set). */
  prefix: string;
  auth_type: AuthType | null;
  auth: Record<string, string> | null;
  passthrough_headers: string[];
  tags: string[];
  is_active: boolean;
  enabled: boolean;
  reachable: boolean;
  /** `active`, `unreachable` or `inactive`. */
  status: 'active' | 'unreachable' | 'inactive';
  last_seen: string | null;
  last_error: string | null;
  protocol_version: string | null;
  server_info: Record<string, unknown> | null;
  capabilities: Record<string, unknown> | null;
  created_at: string;
  updated_at: string;
}
