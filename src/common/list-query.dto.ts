import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

const toBool = ({ value }: { value: unknown }) =>
  value === 'true' || value === '1' || value === true ? true : value === 'false' || value === '0' || value === false ? false : value;

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** Query string of every catalog list endpoint. */
export class ListQueryDto {
  @ApiPropertyOptional({ description: 'Opaque cursor from a previous page (X-Next-Cursor header or next_cursor)' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value))
  @IsInt({ message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}` })
  @Min(1, { message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}` })
  @Max(MAX_PAGE_SIZE, { message: `limit must be an integer from 1 to ${MAX_PAGE_SIZE}` })
  limit?: number;

  @ApiPropertyOptional({ description: 'Comma-separated tags; items with any of them are listed' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  tags?: string;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @Transform(toBool)
  @IsBoolean({ message: 'include_inactive must be true or false' })
  include_inactive?: boolean;

  @ApiPropertyOptional({ default: false, description: 'Wrap the list as {items, next_cursor, total}' })
  @IsOptional()
  @Transform(toBool)
  @IsBoolean({ message: 'include_pagination must be true or false' })
  include_pagination?: boolean;
}

export class StateQueryDto {
  @Transform(toBool)
  @IsBoolean({ message: 'activate must be true or false' })
  activate!: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  total?: number;
}
