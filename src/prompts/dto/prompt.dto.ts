import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { Tags } from '#app/common/tags.decorator.js';

export const PROMPT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const ARGUMENT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export class PromptArgumentDto {
  @ApiProperty({ example: 'language' })
  @IsString({ message: 'argument name is required' })
  @Matches(ARGUMENT_NAME, { message: 'argument names must be identifiers (letters, digits, _), up to 64 characters' })
  name!: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(2000) description?: string;
  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() required?: boolean;
}

/** Fields shared by create and update. On update (PUT) every field is optional and merges. */
export class PromptFieldsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(10_000) description?: string;

  @ApiPropertyOptional({ type: [PromptArgumentDto], description: 'Omit to derive them from the template ({{ name }} placeholders)' })
  @IsOptional()
  @IsArray({ message: 'arguments must be an array' })
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => PromptArgumentDto)
  arguments?: PromptArgumentDto[];

  @Tags() tags?: string[];
}

const NAME_MESSAGE = 'name must be 1-128 characters of letters, digits, "_", "-" or "." and not start with "-" or "."';

export class CreatePromptDto extends PromptFieldsDto {
  @ApiProperty({ example: 'code_review' })
  @IsString({ message: 'name is required' })
  @Matches(PROMPT_NAME, { message: NAME_MESSAGE })
  name!: string;

  @ApiProperty({ example: 'Review this {{ language }} code:\n{{ code }}' })
  @IsString({ message: 'template is required' })
  @MaxLength(1_000_000)
  template!: string;
}

export class UpdatePromptDto extends PromptFieldsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(PROMPT_NAME, { message: NAME_MESSAGE }) name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1_000_000) template?: string;
}

export interface PromptResponse {
  id: string;
  name: string;
  /** The upstream's own name for a federated prompt; null for stored prompts. */
  original_name: string | null;
  description: string | null;
  template: string;
  arguments: Array<{ name: string; description?: string; required: boolean }>;
  tags: string[];
  gateway_id: string | null;
  is_active: boolean;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}
