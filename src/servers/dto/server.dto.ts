import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { Tags } from '#app/common/tags.decorator.js';

const ID = { each: true, message: 'each id must be a string' };
/** The seed also accepts associations as one comma-separated string. */
const idList = () =>
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean)
      : value,
  );

/** Fields shared by create and update. On update (PUT) every field is optional and merges. */
export class ServerFieldsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;

  @ApiPropertyOptional({ description: 'Icon URL or data URI' })
  @IsOptional()
  @IsString()
  @MaxLength(65_536)
  icon?: string | null;

  @Tags() tags?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Tool ids (array or comma-separated string)' })
  @IsOptional()
  @idList()
  @IsArray({ message: 'associated_tools must be an array of tool ids' })
  @ArrayMaxSize(10_000)
  @IsString(ID)
  associated_tools?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Resource ids (array or comma-separated string)' })
  @IsOptional()
  @idList()
  @IsArray({ message: 'associated_resources must be an array of resource ids' })
  @ArrayMaxSize(10_000)
  @IsString(ID)
  associated_resources?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Prompt ids (array or comma-separated string)' })
  @IsOptional()
  @idList()
  @IsArray({ message: 'associated_prompts must be an array of prompt ids' })
  @ArrayMaxSize(10_000)
  @IsString(ID)
  associated_prompts?: string[];
}

export class CreateServerDto extends ServerFieldsDto {
  @ApiProperty({ example: 'research' })
  @IsString({ message: 'name is required' })
  @MinLength(1)
  @MaxLength(255)
  name!: string;
}

export class UpdateServerDto extends ServerFieldsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MinLength(1) @MaxLength(255) name?: string;
}

export interface ServerResponse {
  id: string;
  name: string;
  description: string | null;
  icon: string | null;
  tags: string[];
  associated_tools: string[];
  associated_resources: string[];
  associated_prompts: string[];
  is_active: boolean;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}
