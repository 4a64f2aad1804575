import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { IS_PUBLIC } from './public.decorator.js';
import { TokenError, TokenService } from './token.service.js';

/** Who made the request; attached to the Fastify request as `request.user`. */
export interface AuthenticatedUser {
  username: string;
  method: 'jwt' | 'basic' | 'anonymous';
}

declare module 'fastify' {
  interface FastifyRequest {
    user?: AuthenticatedUser;
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * The global guard: a Bearer JWT (HS256, `exp` checked) or HTTP Basic credentials, compared in
 * constant time. Routes marked `@Public()` pass; with AUTH_REQUIRED=false everything passes.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly basicUser: Buffer;
  private readonly basicPassword: Buffer;
  private readonly basicEnabled: boolean;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(TokenService) private readonly tokens: TokenService,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {
    this.basicUser = digest(config.auth.basicUser);
    this.basicPassword = digest(config.auth.basicPassword);
    this.basicEnabled = config.auth.basicUser !== '' && config.auth.basicPassword !== '';
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    request.user = this.authenticate(request.headers.authorization);
    return true;
  }

  /** Returns the user, or throws a 401 that says what was wrong. Reused by non-HTTP transports. */
  authenticate(header: string | undefined): AuthenticatedUser {
    if (!this.config.auth.required) return { username: 'anonymous', method: 'anonymous' };
    if (!header) throw unauthorized('missing Authorization header (expected "Bearer <jwt>" or Basic credentials)');
    const space = header.indexOf(' ');
    const scheme = space > 0 ? header.slice(0, space).toLowerCase() : header.toLowerCase();
    const credentials = space > 0 ? header.slice(space + 1).trim() : '';
    if (scheme === 'bearer') {
      if (!credentials) throw unauthorized('empty bearer token');
      try {
        return { username: this.tokens.verify(credentials).sub, method: 'jwt' };
      } catch (error) {
        throw unauthorized(error instanceof TokenError ? error.message : 'invalid token');
      }
    }
    if (scheme === 'basic' && this.basicEnabled) {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw unauthorized('malformed Basic credentials');
      const userOk = timingSafeEqual(digest(decoded.slice(0, colon)), this.basicUser);
      const passwordOk = timingSafeEqual(digest(decoded.slice(colon + 1)), this.basicPassword);
      if (userOk && passwordOk) return { username: decoded.slice(0, colon), method: 'basic' };
      throw unauthorized('invalid username or password');
    }
    throw unauthorized(`unsupported Authorization scheme "${scheme}"`);
  }
}

function unauthorized(message: string): UnauthorizedException {
  return new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', message });
}
