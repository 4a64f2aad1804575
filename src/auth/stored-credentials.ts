import { Inject, Injectable } from '@nestjs/common';
import { unprocessable } from '#app/common/validation.js';
import type { AuthType, AuthValuesDto } from './dto/auth-values.dto.js';
import { SecretCipher } from './secret-cipher.js';

/** What the API shows in place of a stored secret. Sending it back on update keeps the secret. */
export const MASK = '*****';

/** Which fields each auth type needs, and which of them are secret. */
const FIELDS: Record<AuthType, { required: Array<keyof AuthValuesDto>; secret: Array<keyof AuthValuesDto> }> = {
  basic: { required: ['username', 'password'], secret: ['password'] },
  bearer: { required: ['token'], secret: ['token'] },
  authheaders: { required: ['auth_header_key', 'auth_header_value'], secret: ['auth_header_value'] },
};

export interface SealedCredentials {
  authType: AuthType | null;
  authValue: string | null;
}

type Values = Partial<Record<keyof AuthValuesDto, string>>;

/**
 * Seals, masks and opens the credentials stored with tools (and, later, gateways). Secrets are
 * never returned in clear through the API; `headers()` is for the outgoing call only.
 */
@Injectable()
export class StoredCredentials {
  constructor(@Inject(SecretCipher) private readonly cipher: SecretCipher) {}

  /**
   * Validates and seals `auth`. `null` clears the credentials; `undefined` keeps `previous`.
   * A masked secret (`*****`) keeps the previous secret of the same type.
   */
  seal(auth: AuthValuesDto | null | undefined, previous: SealedCredentials, field = 'auth'): SealedCredentials {
    if (auth === undefined) return previous;
    if (auth === null) return { authType: null, authValue: null };
    const spec = FIELDS[auth.auth_type];
    const values: Values = {};
    for (const key of spec.required) {
      let value = auth[key];
      if (value === MASK && spec.secret.includes(key)) value = this.previousValue(previous, auth.auth_type, key);
      if (typeof value !== 'string' || value === '') {
        throw unprocessable([{ field: `${field}.${key}`, message: `${field}.${key} is required for auth_type ${auth.auth_type}` }]);
      }
      values[key] = value;
    }
    return { authType: auth.auth_type, authValue: this.cipher.seal(JSON.stringify(values)) };
  }

  /** The API view: type and non-secret fields, secrets masked. */
  mask(stored: SealedCredentials): Record<string, string> | null {
    if (!stored.authType) return null;
    const spec = FIELDS[stored.authType];
    const out: Record<string, string> = { auth_type: stored.authType };
    let values: Values;
    try {
      values = this.open(stored);
    } catch {
      values = {}; // sealed with another AUTH_ENCRYPTION_SECRET: show the type, nothing else
    }
    for (const key of spec.required) {
      if (values[key] !== undefined) out[key] = spec.secret.includes(key) ? MASK : (values[key] as string);
    }
    return out;
  }

  /** The HTTP headers that present these credentials (for the outgoing call). */
  headers(stored: SealedCredentials): Record<string, string> {
    if (!stored.authType) return {};
    const v = this.open(stored);
    switch (stored.authType) {
      case 'basic':
        return { authorization: `Basic ${Buffer.from(`${v.username}:${v.password}`).toString('base64')}` };
      case 'bearer':
        return { authorization: `Bearer ${v.token}` };
      case 'authheaders':
        return { [String(v.auth_header_key).toLowerCase()]: String(v.auth_header_value) };
    }
  }

  /**
   * The stored value behind a masked field, if it is of the same type and still readable
   * (after AUTH_ENCRYPTION_SECRET rotation it is not: the caller then gets a 422 for the field).
   */
  private previousValue(previous: SealedCredentials, type: AuthType, key: keyof AuthValuesDto): string | undefined {
    if (previous.authType !== type) return undefined;
    try {
      return this.open(previous)[key];
    } catch {
      return undefined;
    }
  }

  private open(stored: SealedCredentials): Values {
    return stored.authValue ? (JSON.parse(this.cipher.open(stored.authValue)) as Values) : {};
  }
}
