import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its default export is the plugin function itself.
const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2020) => void;

const DRAFT_07 = /json-schema\.org\/draft-0[4-7]\/schema/;

/**
 * Compiles JSON Schemas for tool input and output. MCP's default dialect is 2020-12; a schema
 * that declares draft-04..07 in `$schema` is compiled with that dialect instead.
 */
export class JsonSchemaCompiler {
  private readonly ajv2020 = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
  private readonly ajv07 = new Ajv({ strict: false, allErrors: false, validateFormats: true });

  constructor() {
    addFormats(this.ajv2020);
    addFormats(this.ajv07);
  }

  private engine(schema: unknown): Ajv | Ajv2020 {
    const declared = (schema as { $schema?: unknown } | null)?.$schema;
    return typeof declared === 'string' && DRAFT_07.test(declared) ? this.ajv07 : this.ajv2020;
  }

  /** Null when `schema` is a usable JSON Schema, else a sentence saying why not. */
  problem(schema: unknown): string | null {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return 'must be a JSON Schema object';
    const ajv = this.engine(schema);
    try {
      if (!ajv.validateSchema(schema as AnySchema)) return `is not a valid JSON Schema: ${ajv.errorsText(ajv.errors)}`;
      ajv.compile(schema as AnySchema);
      return null;
    } catch (error) {
      return `is not a valid JSON Schema: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  compile(schema: AnySchema): ValidateFunction {
    return this.engine(schema).compile(schema);
  }
}
