import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export const AUTH_TYPES = ['basic', 'bearer', 'authheaders'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

/** Credentials the gateway presents to a tool's endpoint or an upstream. Stored sealed; returned masked. */
export class AuthValuesDto {
  @ApiProperty({ enum: AUTH_TYPES })
  @IsIn(AUTH_TYPES, { message: `auth_type must be one of: ${AUTH_TYPES.join(', ')}` })
  auth_type!: AuthType;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1024) username?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(4096) password?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(8192) token?: string;

  @ApiPropertyOptional({ example: 'X-API-Key' })
  @IsOptional()
  @IsString()
  @Matches(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: 'auth_header_key must be a valid HTTP header name' })
  auth_header_key?: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(8192) auth_header_value?: string;
}
