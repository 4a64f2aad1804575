import { Global, Logger, Module, type OnModuleInit, Inject } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { AppConfig } from '#app/config/app-config.js';
import { APP_CONFIG } from '#app/config/config.module.js';
import { AuthGuard } from './auth.guard.js';
import { SecretCipher } from './secret-cipher.js';
import { StoredCredentials } from './stored-credentials.js';
import { TokenService } from './token.service.js';

/**
 * Owns authentication (the global JWT/Basic guard, token signing) and the encryption of stored
 * secrets. Warns at start when auth is off or laptop-default secrets are in use.
 */
@Global()
@Module({
  providers: [
    { provide: TokenService, inject: [APP_CONFIG], useFactory: (c: AppConfig) => new TokenService(c.auth.jwtSecret) },
    { provide: SecretCipher, inject: [APP_CONFIG], useFactory: (c: AppConfig) => new SecretCipher(c.auth.encryptionSecret) },
    StoredCredentials,
    AuthGuard,
    { provide: APP_GUARD, useExisting: AuthGuard },
  ],
  exports: [TokenService, SecretCipher, StoredCredentials, AuthGuard],
})
export class AuthModule implements OnModuleInit {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onModuleInit(): void {
    const log = new Logger('Auth');
    if (!this.config.auth.required) log.warn('AUTH_REQUIRED=false: every endpoint is open to anyone who can reach it');
    if (this.config.auth.insecureDefaults.length > 0) {
      log.warn(`running with default secrets (${this.config.auth.insecureDefaults.join(', ')}); set them before exposing this gateway`);
    }
  }
}
