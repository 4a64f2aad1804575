import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { AuthValuesDto } from '#app/auth/dto/auth-values.dto.js';
import { REQUEST_TYPES, type RequestType } from '../tool.entity.js';
import { Tags } from '#app/common/tags.decorator.js';

/** MCP tool names: letters, digits, `_`, `-`, `.`; 1–128 characters. */
export const TOOL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Fields shared by create and update. On update (PUT) every field is optional and merges. */
export class ToolFieldsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;

  @ApiPropertyOptional({ enum: ['REST'], default: 'REST' })
  @IsOptional()
  @IsIn(['REST'], { message: 'integration_type must be REST (federated MCP tools come from gateways)' })
  integration_type?: 'REST';

  @ApiPropertyOptional({ enum: REQUEST_TYPES, default: 'POST' })
  @IsOptional()
  @IsIn(REQUEST_TYPES, { message: `request_type must be one of: ${REQUEST_TYPES.join(', ')}` })
  request_type?: RequestType;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject({ message: 'headers must be an object of header names to string values' })
  headers?: Record<string, string>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'JSON Schema of the arguments' })
  @IsOptional()
  @IsObject({ message: 'input_schema must be a JSON Schema object' })
  input_schema?: Record<string, unknown>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'JSON Schema of structured results' })
  @IsOptional()
  @IsObject({ message: 'output_schema must be a JSON Schema object' })
  output_schema?: Record<string, unknown> | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'MCP tool annotations (hints)' })
  @IsOptional()
  @IsObject({ message: 'annotations must be an object' })
  annotations?: Record<string, unknown> | null;

  @ApiPropertyOptional({ type: AuthValuesDto, nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AuthValuesDto)
  auth?: AuthValuesDto | null;

  @Tags() tags?: string[];

  @ApiPropertyOptional({ minimum: 1, maximum: 3_600_000, description: 'Per-tool timeout; TOOL_TIMEOUT when unset' })
  @IsOptional()
  @IsInt({ message: 'timeout_ms must be an integer from 1 to 3600000' })
  @Min(1, { message: 'timeout_ms must be an integer from 1 to 3600000' })
  @Max(3_600_000, { message: 'timeout_ms must be an integer from 1 to 3600000' })
  timeout_ms?: number | null;
}

export class CreateToolDto extends ToolFieldsDto {
  @ApiProperty({ example: 'get_weather', pattern: TOOL_NAME.source })
  @IsString({ message: 'name is required' })
  @Matches(TOOL_NAME, { message: 'name must be 1-128 characters of letters, digits, "_", "-" or "." and not start with "-" or "."' })
  name!: string;

  @ApiProperty({ example: 'https://api.example.com/weather' })
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'url must be an http(s) URL' })
  @MaxLength(4096)
  url!: string;
}

export class UpdateToolDto extends ToolFieldsDto {
  @ApiPropertyOptional({ example: 'get_weather', pattern: TOOL_NAME.source })
  @IsOptional()
  @IsString()
  @Matches(TOOL_NAME, { message: 'name must be 1-128 characters of letters, digits, "_", "-" or "." and not start with "-" or "."' })
  name?: string;

  @ApiPropertyOptional({ example: 'https://api.example.com/weather' })
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'url must be an http(s) URL' })
  @MaxLength(4096)
  url?: string;

}

/** A tool as the API returns it: snake_case, credentials masked. */
export interface ToolResponse {
  id: string;
  name: string;
  original_name: string | null;
  url: string | null;
  description: string | null;
  integration_type: string;
  request_type: string;
  headers: Record<string, string>;
  input_schema: Record<string, unknown>;
  output_schema: Record<string, unknown> | null;
  annotations: Record<string, unknown>;
  auth: Record<string, string> | null;
  tags: string[];
  timeout_ms: number | null;
  gateway_id: string | null;
  is_active: boolean;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}
