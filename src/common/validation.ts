import {
  UnprocessableEntityException,
  ValidationPipe,
  type PipeTransform,
  type Type,
} from '@nestjs/common';
import type { ValidationError } from 'class-validator';

/** Flattens nested class-validator errors into `{field: "auth.password", message}` pairs. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): Array<{ field: string; message: string }> {
  const out: Array<{ field: string; message: string }> = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) out.push({ field, message });
    if (error.children?.length) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}

/** A 422 naming the failing field(s). */
export function unprocessable(all: Array<{ field: string; message: string }>): UnprocessableEntityException {
  const details = all.filter((d, i) => all.findIndex((o) => o.field === d.field && o.message === d.message) === i);
  return new UnprocessableEntityException({
    statusCode: 422,
    error: 'Unprocessable Entity',
    message: details.map((d) => (d.message.startsWith(d.field) ? d.message : `${d.field}: ${d.message}`)).join('; '),
    details,
  });
}

/** The admin API's validation: strip unknown fields, convert types, answer 422 with the fields. */
export const createValidationPipe = (): ValidationPipe =>
  new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: false,
    exceptionFactory: (errors) => unprocessable(flattenValidationErrors(errors)),
  });

/**
 * Accepts the flat body and the seed's wrapped form (`{"tool": {...}}`), then validates it.
 * A body that is not a JSON object gets 422.
 */
export class CatalogBodyPipe implements PipeTransform {
  private readonly validation = createValidationPipe();

  constructor(
    private readonly wrapperKey: string,
    private readonly dto: Type,
  ) {}

  async transform(value: unknown): Promise<unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw unprocessable([{ field: 'body', message: 'body must be a JSON object' }]);
    }
    const wrapped = (value as Record<string, unknown>)[this.wrapperKey];
    const body = typeof wrapped === 'object' && wrapped !== null && !Array.isArray(wrapped) ? wrapped : value;
    return this.validation.transform(body, { type: 'body', metatype: this.dto });
  }
}
