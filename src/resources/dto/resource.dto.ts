import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBase64,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';
import { Tags } from '#app/common/tags.decorator.js';

const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

/** Fields shared by create and update. On update (PUT) every field is optional and merges. */
export class ResourceFieldsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;

  @ApiPropertyOptional({ example: 'text/markdown' })
  @IsOptional()
  @Matches(/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/, { message: 'mime_type must look like type/subtype' })
  mime_type?: string;

  @ApiPropertyOptional({ example: 'docs://guides/{name}', description: 'RFC 6570 template; makes this a resource template' })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  uri_template?: string | null;

  @ApiPropertyOptional({ description: 'Text content' })
  @IsOptional()
  @IsString({ message: 'content must be a string (send binary content base64-encoded as blob)' })
  content?: string;

  @ApiPropertyOptional({ description: 'Binary content, base64-encoded' })
  @IsOptional()
  @IsBase64({}, { message: 'blob must be base64-encoded' })
  blob?: string;

  @Tags() tags?: string[];
}

export class CreateResourceDto extends ResourceFieldsDto {
  @ApiProperty({ example: 'docs://guides/welcome' })
  @IsString({ message: 'uri is required' })
  @MaxLength(2048)
  @Matches(URI, { message: 'uri must be an absolute URI with a scheme, e.g. file:///x or docs://guide' })
  uri!: string;

  @ApiProperty({ example: 'Welcome guide' })
  @IsString({ message: 'name is required' })
  @MinLength(1)
  @MaxLength(255)
  name!: string;
}

export class UpdateResourceDto extends ResourceFieldsDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  @Matches(URI, { message: 'uri must be an absolute URI with a scheme, e.g. file:///x or docs://guide' })
  uri?: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MinLength(1) @MaxLength(255) name?: string;
}

export interface ResourceResponse {
  id: string;
  uri: string;
  name: string;
  description: string | null;
  mime_type: string | null;
  uri_template: string | null;
  content?: string;
  blob?: string;
  size: number | null;
  tags: string[];
  gateway_id: string | null;
  is_active: boolean;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}
