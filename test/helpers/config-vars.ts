import 'reflect-metadata';
import { getMetadataStorage } from 'class-validator';
import { EnvironmentVariables } from '#app/config/environment.js';

/*
 * The gateway's variables as the deliverables (docker/, helm/) must know them: the properties of
 * the validated env class, optional ones included, and what each one accepts.
 */

const metadata = getMetadataStorage().getTargetValidationMetadatas(EnvironmentVariables, '', true, false);

/** Every variable the gateway reads. */
export const CONFIG_VARS = new Set<string>([...Object.keys(new EnvironmentVariables()), ...metadata.map((m) => m.propertyName)]);

/** What one variable accepts, read from its class-validator decorators. */
export interface VarConstraint {
  kind: 'integer' | 'number' | 'boolean' | 'string';
  min?: number;
  max?: number;
  enum?: string[];
  pattern?: RegExp;
  minLength?: number;
  maxLength?: number;
  optional: boolean;
}

export function configConstraints(): Map<string, VarConstraint> {
  const byVar = new Map<string, Map<string, unknown[]>>();
  for (const m of metadata) {
    const rules = byVar.get(m.propertyName) ?? new Map<string, unknown[]>();
    rules.set(m.name ?? String(m.type), (m.constraints as unknown[] | undefined) ?? []);
    byVar.set(m.propertyName, rules);
  }
  const out = new Map<string, VarConstraint>();
  for (const [name, rules] of byVar) {
    const first = (rule: string) => rules.get(rule)?.[0];
    const kind = rules.has('isInt') ? 'integer' : rules.has('isNumber') ? 'number' : rules.has('isBoolean') ? 'boolean' : 'string';
    out.set(name, {
      kind,
      min: first('min') as number | undefined,
      max: first('max') as number | undefined,
      enum: first('isIn') as string[] | undefined,
      pattern: first('matches') as RegExp | undefined,
      minLength: first('minLength') as number | undefined,
      maxLength: first('maxLength') as number | undefined,
      optional: rules.has('isOptional'),
    });
  }
  return out;
}
