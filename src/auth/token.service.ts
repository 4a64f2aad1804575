import jwt from 'jsonwebtoken';

export interface TokenClaims {
  sub: string;
  exp?: number;
  iat?: number;
  [claim: string]: unknown;
}

/** Why a token was refused; the message is safe to show the client. */
export class TokenError extends Error {
  override name = 'TokenError';
}

const CACHE_LIMIT = 10_000;

/**
 * HS256 JWTs signed with JWT_SECRET_KEY. Verified tokens are cached until they expire, so the
 * hot path pays one map lookup per request instead of an HMAC. The cache is bounded; when full,
 * the oldest entries go first.
 */
export class TokenService {
  private readonly verified = new Map<string, { claims: TokenClaims; expiresAtMs: number }>();

  constructor(private readonly secret: string) {}

  /** `expiresInMinutes` of 0 means no expiry, as the seed's create_jwt_token does. */
  sign(claims: Omit<TokenClaims, 'exp' | 'iat'>, expiresInMinutes: number): string {
    const options: jwt.SignOptions = { algorithm: 'HS256' };
    if (expiresInMinutes > 0) options.expiresIn = Math.round(expiresInMinutes * 60);
    return jwt.sign(claims, this.secret, options);
  }

  verify(token: string): TokenClaims {
    const now = Date.now();
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expiresAtMs > now) return hit.claims;
      this.verified.delete(token);
      throw new TokenError('token has expired');
    }
    let claims: TokenClaims;
    try {
      const decoded = jwt.verify(token, this.secret, { algorithms: ['HS256'] });
      if (typeof decoded === 'string' || typeof decoded.sub !== 'string' || decoded.sub === '') {
        throw new TokenError('token has no subject (sub) claim');
      }
      claims = decoded as TokenClaims;
    } catch (error) {
      if (error instanceof TokenError) throw error;
      if (error instanceof jwt.TokenExpiredError) throw new TokenError('token has expired');
      if (error instanceof jwt.JsonWebTokenError) throw new TokenError(`invalid token: ${error.message}`);
      throw new TokenError('invalid token');
    }
    if (this.verified.size >= CACHE_LIMIT) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, { claims, expiresAtMs: claims.exp ? claims.exp * 1000 : Number.POSITIVE_INFINITY });
    return claims;
  }
}
