import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface PortalClient { client_id: string; client_secret?: string }

export interface AuthorizationRequest { url: string; verifier: string; state: string; nonce: string }

/**
 * A relying party built with openid-client, as a portal would be: discovery,
 * PKCE, state and nonce, the code exchange, userinfo, refresh and logout.
 */
export class Portal {
  private constructor(readonly config: oidc.Configuration, readonly issuer: string, readonly redirectUri: string) {}

  static async connect(issuer: string, client: PortalClient, redirectUri = 'http://localhost:8080/callback'): Promise<Portal> {
    const config = await oidc.discovery(
      new URL(issuer), client.client_id, client.client_secret, client.client_secret ? undefined : oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    return new Portal(config, issuer, redirectUri);
  }

  async authorizationRequest(params: Record<string, string> = {}): Promise<AuthorizationRequest> {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(this.config, {
      redirect_uri: this.redirectUri,
      scope: 'openid email profile sites',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...params,
    });
    return { url: url.href, verifier, state, nonce };
  }

  exchange(callbackUrl: string, req: AuthorizationRequest) {
    return oidc.authorizationCodeGrant(this.config, new URL(callbackUrl), {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
      idTokenExpected: true,
    });
  }

  userinfo(accessToken: string, sub: string) {
    return oidc.fetchUserInfo(this.config, accessToken, sub);
  }

  refresh(refreshToken: string) {
    return oidc.refreshTokenGrant(this.config, refreshToken);
  }

  introspect(token: string) {
    return oidc.tokenIntrospection(this.config, token);
  }

  revoke(token: string) {
    return oidc.tokenRevocation(this.config, token);
  }

  /** Verifies an ID token's signature against pharmid's published JWKS. */
  async verifyIdToken(idToken: string): Promise<JWTPayload> {
    const jwks = createRemoteJWKSet(new URL(`${this.issuer}/jwks`));
    const { payload } = await jwtVerify(idToken, jwks, { issuer: this.issuer, audience: this.config.clientMetadata().client_id });
    return payload;
  }
}
