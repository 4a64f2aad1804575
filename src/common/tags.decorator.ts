import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

const EACH = { each: true, message: 'each tag must be a string of 1 to 64 characters' };

/** The optional `tags` field every catalog kind has: up to 50 strings of 1-64 characters. */
export const Tags = (): PropertyDecorator =>
  applyDecorators(
    ApiPropertyOptional({ type: [String], maxItems: 50 }),
    IsOptional(),
    IsArray({ message: 'tags must be an array of strings' }),
    ArrayMaxSize(50, { message: 'tags may hold at most 50 entries' }),
    IsString(EACH),
    MinLength(1, EACH),
    MaxLength(64, EACH),
  );
