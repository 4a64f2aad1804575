import { Global, Module } from '@nestjs/common';
import { JsonSchemaCompiler } from '#app/common/json-schema.js';
import { CatalogEvents } from './catalog-events.js';

/** Cross-cutting catalog plumbing shared by tools, servers, resources and prompts. */
@Global()
@Module({
  providers: [CatalogEvents, JsonSchemaCompiler],
  exports: [CatalogEvents, JsonSchemaCompiler],
})
export class CatalogModule {}
