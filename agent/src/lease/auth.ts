// Lease tokens are checked offline: an ES256 JWT from the platform, verified against its JWKS
// (fetched once, cached, fetched again when a token names a key we have not seen: key rotation).
import { createRemoteJWKSet, jwtVerify } from "jose";

export interface TokenVerifierOptions {
  jwksUrl: string;
  nodeId: string;
  issuer: string;
  now: () => number;
  /** Seconds of clock skew tolerated on nbf/exp. */
  clockToleranceSec?: number;
  /** Shortest gap between two JWKS fetches (an unknown kid cannot make us hammer the API). */
  jwksCooldownMs?: number;
  /** Told when a token could not be checked at all (JWKS unreachable or malformed), not when it is bad. */
  onUnavailable?: (message: string) => void;
}

// What a bad token looks like to jose; anything else means we could not check it.
const TOKEN_ERRORS = new Set([
  "ERR_JWT_CLAIM_VALIDATION_FAILED",
  "ERR_JWT_EXPIRED",
  "ERR_JWT_INVALID",
  "ERR_JWS_INVALID",
  "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
  "ERR_JOSE_ALG_NOT_ALLOWED",
  "ERR_JOSE_NOT_SUPPORTED",
  "ERR_JWKS_NO_MATCHING_KEY",
  "ERR_JWKS_MULTIPLE_MATCHING_KEYS",
  "ERR_JWK_INVALID",
]);

export class TokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly opts: TokenVerifierOptions;

  constructor(opts: TokenVerifierOptions) {
    this.opts = opts;
    this.jwks = createRemoteJWKSet(new URL(opts.jwksUrl), {
      cooldownDuration: opts.jwksCooldownMs ?? 30_000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5_000,
    });
  }

  /** The contract id the token grants, or null for any token that is not valid for this node now. */
  async verify(token: string): Promise<string | null> {
    // A JWT is three base64url parts; anything else is not worth a JWKS lookup.
    if (token.length > 8192 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return null;
    try {
      const { payload } = await jwtVerify(token, this.jwks, {
        issuer: this.opts.issuer,
        audience: this.opts.nodeId,
        algorithms: ["ES256"],
        clockTolerance: this.opts.clockToleranceSec ?? 5,
        currentDate: new Date(this.opts.now()),
        requiredClaims: ["sub", "exp", "aud", "iss"],
      });
      return typeof payload.sub === "string" && payload.sub.length > 0 ? payload.sub : null;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === undefined || !TOKEN_ERRORS.has(code)) this.opts.onUnavailable?.(e instanceof Error ? e.message : String(e));
      return null;
    }
  }
}
