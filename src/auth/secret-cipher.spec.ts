import { describe, expect, it } from '@jest/globals';
import { SecretCipher } from './secret-cipher.js';

describe('SecretCipher', () => {
  it('round-trips and never stores the plaintext', () => {
    const cipher = new SecretCipher('k1');
    const sealed = cipher.seal('hunter2');
    expect(sealed.startsWith('v1:')).toBe(true);
    expect(sealed).not.toContain('hunter2');
    expect(cipher.open(sealed)).toBe('hunter2');
  });

  it('refuses a wrong key or a tampered payload', () => {
    const sealed = new SecretCipher('k1').seal('hunter2');
    expect(() => new SecretCipher('k2').open(sealed)).toThrow();
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    expect(() => new SecretCipher('k1').open(tampered)).toThrow();
    expect(() => new SecretCipher('k1').open('v0:abc')).toThrow('unsupported');
  });
});
