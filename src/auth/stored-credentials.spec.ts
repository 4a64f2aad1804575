import { describe, expect, it } from '@jest/globals';
import { UnprocessableEntityException } from '@nestjs/common';
import type { AuthValuesDto } from './dto/auth-values.dto.js';
import { SecretCipher } from './secret-cipher.js';
import { MASK, StoredCredentials, type SealedCredentials } from './stored-credentials.js';

const NONE: SealedCredentials = { authType: null, authValue: null };
const credentials = new StoredCredentials(new SecretCipher('stored-credentials-spec'));
const auth = (values: AuthValuesDto): AuthValuesDto => values;

/** Runs seal and returns the 422 it throws (fails the test otherwise). */
function rejection(fn: () => unknown): { message: string; details: Array<{ field: string; message: string }>; statusCode: number } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UnprocessableEntityException);
    expect((error as UnprocessableEntityException).getStatus()).toBe(422);
    return (error as UnprocessableEntityException).getResponse() as ReturnType<typeof rejection>;
  }
  throw new Error('seal accepted the credentials');
}

describe('StoredCredentials', () => {
  describe('basic', () => {
    const sealed = credentials.seal(auth({ auth_type: 'basic', username: 'alice', password: 's3cret-pw' }), NONE);

    it('seals: the stored value is ciphertext, not the password', () => {
      expect(sealed.authType).toBe('basic');
      expect(sealed.authValue).toMatch(/^v1:/);
      expect(sealed.authValue).not.toContain('s3cret-pw');
      expect(sealed.authValue).not.toContain('alice');
    });

    it('masks the password and shows the username', () => {
      expect(credentials.mask(sealed)).toEqual({ auth_type: 'basic', username: 'alice', password: MASK });
      expect(JSON.stringify(credentials.mask(sealed))).not.toContain('s3cret-pw');
    });

    it('presents an Authorization: Basic header', () => {
      expect(credentials.headers(sealed)).toEqual({ authorization: `Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}` });
    });
  });

  describe('bearer', () => {
    const sealed = credentials.seal(auth({ auth_type: 'bearer', token: 'tok-123-secret' }), NONE);

    it('seals, masks and presents the token', () => {
      expect(sealed.authType).toBe('bearer');
      expect(sealed.authValue).not.toContain('tok-123-secret');
      expect(credentials.mask(sealed)).toEqual({ auth_type: 'bearer', token: MASK });
      expect(credentials.headers(sealed)).toEqual({ authorization: 'Bearer tok-123-secret' });
    });
  });

  describe('authheaders', () => {
    const sealed = credentials.seal(auth({ auth_type: 'authheaders', auth_header_key: 'X-API-Key', auth_header_value: 'key-987-secret' }), NONE);

    it('seals, masks the value, shows the header name, and presents the custom header', () => {
      expect(sealed.authType).toBe('authheaders');
      expect(sealed.authValue).not.toContain('key-987-secret');
      expect(credentials.mask(sealed)).toEqual({ auth_type: 'authheaders', auth_header_key: 'X-API-Key', auth_header_value: MASK });
      expect(credentials.headers(sealed)).toEqual({ 'x-api-key': 'key-987-secret' });
    });
  });

  it('sealing the same values twice gives different ciphertexts (random IV)', () => {
    const a = credentials.seal(auth({ auth_type: 'bearer', token: 't' }), NONE);
    const b = credentials.seal(auth({ auth_type: 'bearer', token: 't' }), NONE);
    expect(a.authValue).not.toBe(b.authValue);
  });

  it('drops fields the auth type does not use', () => {
    const sealed = credentials.seal(auth({ auth_type: 'bearer', token: 't', username: 'ignored', password: 'ignored-pw' }), NONE);
    expect(credentials.mask(sealed)).toEqual({ auth_type: 'bearer', token: MASK });
  });

  describe('missing required fields answer 422 naming the field', () => {
    it.each([
      [{ auth_type: 'basic', username: 'alice' }, 'auth.password'],
      [{ auth_type: 'basic', password: 'pw' }, 'auth.username'],
      [{ auth_type: 'basic', username: '', password: 'pw' }, 'auth.username'],
      [{ auth_type: 'bearer' }, 'auth.token'],
      [{ auth_type: 'authheaders', auth_header_value: 'v' }, 'auth.auth_header_key'],
      [{ auth_type: 'authheaders', auth_header_key: 'X-K' }, 'auth.auth_header_value'],
    ])('%j -> %s', (values, field) => {
      const response = rejection(() => credentials.seal(values as AuthValuesDto, NONE));
      expect(response.statusCode).toBe(422);
      expect(response.details).toEqual([{ field, message: expect.stringContaining(field) }]);
      expect(response.message).toContain(field);
    });

    it('uses the field path it is given', () => {
      const response = rejection(() => credentials.seal(auth({ auth_type: 'bearer' }), NONE, 'gateway.auth'));
      expect(response.details[0].field).toBe('gateway.auth.token');
    });
  });

  describe('updates', () => {
    const previous = credentials.seal(auth({ auth_type: 'basic', username: 'alice', password: 'old-pw' }), NONE);

    it('a masked password keeps the previous secret', () => {
      const updated = credentials.seal(auth({ auth_type: 'basic', username: 'bob', password: MASK }), previous);
      expect(credentials.headers(updated)).toEqual({ authorization: `Basic ${Buffer.from('bob:old-pw').toString('base64')}` });
      expect(credentials.mask(updated)).toEqual({ auth_type: 'basic', username: 'bob', password: MASK });
    });

    it('a masked bearer token and header value keep theirs too', () => {
      const bearer = credentials.seal(auth({ auth_type: 'bearer', token: 'keep-me' }), NONE);
      expect(credentials.headers(credentials.seal(auth({ auth_type: 'bearer', token: MASK }), bearer))).toEqual({ authorization: 'Bearer keep-me' });
      const headers = credentials.seal(auth({ auth_type: 'authheaders', auth_header_key: 'X-A', auth_header_value: 'v1' }), NONE);
      const renamed = credentials.seal(auth({ auth_type: 'authheaders', auth_header_key: 'X-B', auth_header_value: MASK }), headers);
      expect(credentials.headers(renamed)).toEqual({ 'x-b': 'v1' });
    });

    it('a new password replaces the old one', () => {
      const updated = credentials.seal(auth({ auth_type: 'basic', username: 'alice', password: 'new-pw' }), previous);
      expect(credentials.headers(updated)).toEqual({ authorization: `Basic ${Buffer.from('alice:new-pw').toString('base64')}` });
    });

    it('the mask is not a secret for a non-secret field: a masked username is stored as is', () => {
      const updated = credentials.seal(auth({ auth_type: 'basic', username: MASK, password: MASK }), previous);
      expect(credentials.mask(updated)).toEqual({ auth_type: 'basic', username: MASK, password: MASK });
      expect(credentials.headers(updated).authorization).toBe(`Basic ${Buffer.from(`${MASK}:old-pw`).toString('base64')}`);
    });

    it('a masked secret cannot carry over from another auth type', () => {
      const response = rejection(() => credentials.seal(auth({ auth_type: 'bearer', token: MASK }), previous));
      expect(response.details[0].field).toBe('auth.token');
    });

    it('a masked secret with nothing stored before is refused', () => {
      expect(rejection(() => credentials.seal(auth({ auth_type: 'basic', username: 'a', password: MASK }), NONE)).details[0].field).toBe('auth.password');
    });

    it('null clears the credentials', () => {
      const cleared = credentials.seal(null, previous);
      expect(cleared).toEqual(NONE);
      expect(credentials.mask(cleared)).toBeNull();
      expect(credentials.headers(cleared)).toEqual({});
    });

    it('undefined keeps the previous credentials unchanged', () => {
      expect(credentials.seal(undefined, previous)).toBe(previous);
      expect(credentials.seal(undefined, NONE)).toBe(NONE);
    });
  });

  it('masks credentials sealed under another secret as the type alone, without throwing', () => {
    const foreign = new StoredCredentials(new SecretCipher('some-other-secret')).seal(auth({ auth_type: 'bearer', token: 't' }), NONE);
    expect(credentials.mask(foreign)).toEqual({ auth_type: 'bearer' });
    expect(() => credentials.headers(foreign)).toThrow();
  });

  it('replaces credentials sealed under a rotated secret, and answers 422 when only the mask is sent', () => {
    const foreign = new StoredCredentials(new SecretCipher('some-other-secret')).seal(auth({ auth_type: 'bearer', token: 't' }), NONE);
    const fresh = credentials.seal(auth({ auth_type: 'bearer', token: 'new-token' }), foreign);
    expect(credentials.headers(fresh)).toEqual({ authorization: 'Bearer new-token' });
    expect(() => credentials.seal(auth({ auth_type: 'bearer', token: MASK }), foreign)).toThrow(UnprocessableEntityException);
  });

  it('no mask ever contains a secret', () => {
    const secrets = ['pw-AAAA', 'tok-BBBB', 'val-CCCC'];
    const all = [
      credentials.seal(auth({ auth_type: 'basic', username: 'u', password: secrets[0] }), NONE),
      credentials.seal(auth({ auth_type: 'bearer', token: secrets[1] }), NONE),
      credentials.seal(auth({ auth_type: 'authheaders', auth_header_key: 'X-K', auth_header_value: secrets[2] }), NONE),
    ];
    for (const sealed of all) {
      const shown = JSON.stringify(credentials.mask(sealed));
      for (const secret of secrets) expect(shown).not.toContain(secret);
      for (const secret of secrets) expect(sealed.authValue).not.toContain(secret);
    }
  });
});
