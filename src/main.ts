import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config.js';
import { createApp } from './runtime/create-app.js';
import { WorkerLifecycle } from './runtime/worker-lifecycle.js';

function configOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const config = configOrExit();
// Before anything else runs, and only when asked: with observability off no OpenTelemetry SDK
// code is even loaded.
if (config.otel.enabled) (await import('./metrics/otel-sdk.js')).startTracing(config);
try {
  const app = await createApp(config);
  const lifecycle = new WorkerLifecycle(app, config);
  lifecycle.install();
  await app.listen(config.server.port, config.server.host);
  new Logger('Gateway').log(
    `listening on http://${config.server.host}:${config.server.port} (worker ${config.workers.instanceId}, ` +
      `${config.database.type}, ${config.cache.type} cache)`,
  );
  lifecycle.signalReady();
} catch (error) {
  new Logger('Gateway').error(`failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
