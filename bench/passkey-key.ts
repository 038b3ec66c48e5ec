import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * A security key for the bench: an ES256 key pair and what a browser and
 * the key send for navigator.credentials.get() (WebAuthn Level 2: the
 * assertion signs authenticatorData ‖ SHA-256(clientDataJSON); user present
 * and user verified; a counter that moves forward). The same construction as
 * test/helpers/webauthn.ts, kept here because the image builds bench/
 * without test/; its public key is written out in CBOR by hand, so the bench
 * needs no CBOR package.
 */
export class BenchPasskey {
  readonly credentialId = randomBytes(32);
  /** The COSE public key, as a registration stores it. */
  readonly cose: Uint8Array;
  private readonly privateKey: KeyObject;
  private counter = 0;

  constructor(private readonly rpId: string, private readonly origin: string) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    const jwk = publicKey.export({ format: 'jwk' });
    // COSE_Key (RFC 9053) in CBOR, written out: {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}.
    this.cose = Buffer.concat([
      Buffer.from([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]), Buffer.from(jwk.x!, 'base64url'),
      Buffer.from([0x22, 0x58, 0x20]), Buffer.from(jwk.y!, 'base64url'),
    ]);
  }

  /** The AuthenticationResponseJSON a browser posts for this challenge (user present and verified). */
  assert(challenge: string): string {
    this.counter += 1;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(this.counter);
    const authData = Buffer.concat([createHash('sha256').update(this.rpId).digest(), Buffer.from([0x01 | 0x04]), count]);
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: this.origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientData).digest()]), this.privateKey);
    const id = this.credentialId.toString('base64url');
    return JSON.stringify({
      id, rawId: id, type: 'public-key', clientExtensionResults: {}, authenticatorAttachment: 'cross-platform',
      response: { clientDataJSON: clientData.toString('base64url'), authenticatorData: authData.toString('base64url'), signature: signature.toString('base64url') },
    });
  }
}
