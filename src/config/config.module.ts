import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from './app-config.js';

/** Injection token for the validated `AppConfig`. */
export const APP_CONFIG = Symbol('APP_CONFIG');
/** Injection token for the worker's HttpHost (the shared HTTP server; see runtime/http-host.ts). */
export const HTTP_HOST = Symbol('HTTP_HOST');

/**
 * Owns the typed configuration (and hands out the process-level HttpHost with it). `main.ts` loads and validates it before Nest starts (so a bad
 * environment exits with one line, not a stack), then hands it in here.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig, httpHost: object | null = null): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: HTTP_HOST, useValue: httpHost },
      ],
      exports: [APP_CONFIG, HTTP_HOST],
    };
  }
}
