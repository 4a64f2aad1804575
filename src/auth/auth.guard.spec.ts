import { describe, expect, it } from '@jest/globals';
import { UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import jwt from 'jsonwebtoken';
import { loadConfig, type AppConfig } from '#app/config/app-config.js';
import { AuthGuard } from './auth.guard.js';
import { Public } from './public.decorator.js';
import { TokenService } from './token.service.js';

const SECRET = 'auth-guard-spec-secret';
const USER = 'ops';
const PASSWORD = 'correct horse:battery';

const config = loadConfig({ JWT_SECRET_KEY: SECRET, BASIC_AUTH_USER: USER, BASIC_AUTH_PASSWORD: PASSWORD });
const guardFor = (cfg: AppConfig = config): AuthGuard => new AuthGuard(cfg, new TokenService(cfg.auth.jwtSecret), new Reflector());
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const bearer = (claims: object, secret = SECRET, options: jwt.SignOptions = { expiresIn: 300 }): string =>
  `Bearer ${jwt.sign(claims, secret, { algorithm: 'HS256', ...options })}`;

/** Runs authenticate and returns the 401's message (fails the test if it does not throw one). */
function refusal(header: string | undefined, guard = guardFor()): string {
  try {
    guard.authenticate(header);
  } catch (error) {
    expect(error).toBeInstanceOf(UnauthorizedException);
    const exception = error as UnauthorizedException;
    expect(exception.getStatus()).toBe(401);
    const body = exception.getResponse() as { statusCode: number; error: string; message: string };
    expect(body.statusCode).toBe(401);
    expect(body.error).toBe('Unauthorized');
    return body.message;
  }
  throw new Error(`authenticate(${JSON.stringify(header)}) let the request through`);
}

describe('AuthGuard.authenticate', () => {
  it('accepts a valid bearer JWT and names its subject', () => {
    expect(guardFor().authenticate(bearer({ sub: 'alice@example.com' }))).toEqual({ username: 'alice@example.com', method: 'jwt' });
  });

  it('accepts a token made by TokenService.sign with the configured secret', () => {
    const token = new TokenService(SECRET).sign({ sub: 'cli-user' }, 10);
    expect(guardFor().authenticate(`Bearer ${token}`)).toEqual({ username: 'cli-user', method: 'jwt' });
  });

  it('matches the scheme case-insensitively', () => {
    expect(guardFor().authenticate(bearer({ sub: 'a' }).replace('Bearer', 'bearer')).method).toBe('jwt');
    expect(guardFor().authenticate(basic(USER, PASSWORD).replace('Basic', 'BASIC')).method).toBe('basic');
  });

  it('accepts valid Basic credentials (a colon in the password is fine)', () => {
    expect(guardFor().authenticate(basic(USER, PASSWORD))).toEqual({ username: USER, method: 'basic' });
  });

  it('refuses a missing header', () => {
    expect(refusal(undefined)).toMatch(/missing Authorization header/);
    expect(refusal('')).toMatch(/missing Authorization header/);
  });

  it('refuses an empty bearer token', () => {
    expect(refusal('Bearer')).toBe('empty bearer token');
    expect(refusal('Bearer    ')).toBe('empty bearer token');
  });

  it('refuses a malformed bearer token', () => {
    expect(refusal('Bearer not-a-jwt')).toBe('invalid token: jwt malformed');
  });

  it('refuses a bad signature', () => {
    expect(refusal(bearer({ sub: 'a' }, 'wrong-secret'))).toBe('invalid token: invalid signature');
  });

  it('refuses an expired token', () => {
    expect(refusal(bearer({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 10 }, SECRET, {}))).toBe('token has expired');
  });

  it('refuses a token without a subject', () => {
    expect(refusal(bearer({ role: 'admin' }))).toBe('token has no subject (sub) claim');
  });

  it('refuses a wrong Basic password or user', () => {
    expect(refusal(basic(USER, 'wrong'))).toBe('invalid username or password');
    expect(refusal(basic('root', PASSWORD))).toBe('invalid username or password');
    expect(refusal(basic(USER, ''))).toBe('invalid username or password');
  });

  it('refuses malformed Basic credentials', () => {
    expect(refusal(`Basic ${Buffer.from('no-colon-here').toString('base64')}`)).toBe('malformed Basic credentials');
    expect(refusal('Basic')).toBe('malformed Basic credentials');
  });

  it('refuses an unknown scheme, naming it', () => {
    expect(refusal('Digest username="a"')).toBe('unsupported Authorization scheme "digest"');
    expect(refusal('sometoken')).toBe('unsupported Authorization scheme "sometoken"');
  });

  it('refuses Basic when no Basic user or password is configured', () => {
    const noBasic: AppConfig = { ...config, auth: { ...config.auth, basicUser: '', basicPassword: '' } };
    expect(refusal(basic('', ''), guardFor(noBasic))).toBe('unsupported Authorization scheme "basic"');
    // Bearer still works.
    expect(guardFor(noBasic).authenticate(bearer({ sub: 'a' })).method).toBe('jwt');
  });

  it('with AUTH_REQUIRED=false everyone is anonymous, whatever the header', () => {
    const open = guardFor(loadConfig({ JWT_SECRET_KEY: SECRET, AUTH_REQUIRED: 'false' }));
    for (const header of [undefined, 'garbage', bearer({ sub: 'a' }, 'wrong-secret')]) {
      expect(open.authenticate(header)).toEqual({ username: 'anonymous', method: 'anonymous' });
    }
  });
});

describe('AuthGuard.canActivate', () => {
  class Controller {
    @Public() probe(): void {}
    guarded(): void {}
  }

  const contextFor = (handler: () => void, headers: Record<string, string>) => {
    const request: { headers: Record<string, string>; user?: unknown } = { headers };
    const context = {
      getHandler: () => handler,
      getClass: () => Controller,
      switchToHttp: () => ({ getRequest: () => request }),
    } as unknown as ExecutionContext;
    return { context, request };
  };

  it('lets @Public() routes through without a header', () => {
    const { context, request } = contextFor(Controller.prototype.probe, {});
    expect(guardFor().canActivate(context)).toBe(true);
    expect(request.user).toBeUndefined();
  });

  it('attaches the user to the request on other routes', () => {
    const { context, request } = contextFor(Controller.prototype.guarded, { authorization: basic(USER, PASSWORD) });
    expect(guardFor().canActivate(context)).toBe(true);
    expect(request.user).toEqual({ username: USER, method: 'basic' });
  });

  it('throws 401 on other routes without credentials', () => {
    const { context } = contextFor(Controller.prototype.guarded, {});
    expect(() => guardFor().canActivate(context)).toThrow(UnauthorizedException);
  });
});
