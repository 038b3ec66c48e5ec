import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { encodeCBOR, type CBORType } from '@levischuck/tiny-cbor';

/**
 * A software authenticator and client, as a browser and a security key would
 * be: an ES256 key made with Node's crypto; clientDataJSON, authenticatorData
 * and a `none` attestation (CBOR) built byte by byte as WebAuthn Level 2
 * says; assertions signed over authenticatorData ‖ SHA-256(clientDataJSON).
 * Nothing of the server is mocked: what it sends is what a browser sends.
 */

const b64url = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

/** authenticatorData flags (WebAuthn §6.1). */
const UP = 0x01;
const UV = 0x04;
const BE = 0x08;
const BS = 0x10;
const AT = 0x40;

export interface SoftKey {
  credentialId: Buffer;
  privateKey: KeyObject;
  cose: Uint8Array;
  rpId: string;
  userHandle?: string;
  counter: number;
  /** A synced passkey (backup eligible and backed up). */
  synced: boolean;
}

export interface Ceremony {
  /** The origin the "browser" reports (the page's origin). */
  origin?: string;
  /** The RP ID the authenticator scopes the credential to (its hash goes in authenticatorData). */
  rpId?: string;
  /** The person was verified on the key (PIN, fingerprint). */
  uv?: boolean;
  /** The counter to sign with (default: one more than the last). */
  counter?: number;
  /** More of clientDataJSON, as a browser in a cross-origin frame sends (`crossOrigin`, `topOrigin`). */
  clientData?: Record<string, unknown>;
}

function coseKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  return encodeCBOR(new Map<number, number | Uint8Array>([
    [1, 2], // kty: EC2
    [3, -7], // alg: ES256
    [-1, 1], // crv: P-256
    [-2, Buffer.from(jwk.x!, 'base64url')],
    [-3, Buffer.from(jwk.y!, 'base64url')],
  ]));
}

function flags(key: { synced: boolean }, uv: boolean, attested: boolean): number {
  return UP | (uv ? UV : 0) | (key.synced ? BE | BS : 0) | (attested ? AT : 0);
}

function counterBytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string, more: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false, ...more }));
}

interface CreationOptions { challenge: string; rp: { id?: string }; user: { id: string } }
interface RequestOptions { challenge: string; rpId?: string }

export class SoftAuthenticator {
  readonly keys: SoftKey[] = [];

  constructor(readonly origin: string) {}

  /** navigator.credentials.create(): a new key, and the RegistrationResponseJSON a browser would post. */
  create(options: CreationOptions, c: Ceremony & { synced?: boolean; sameAs?: SoftKey } = {}): { key: SoftKey; response: string } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rpId = c.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const key: SoftKey = {
      // `sameAs`: the credential id of a key registered before (a key offered to a second account).
      credentialId: c.sameAs?.credentialId ?? randomBytes(32), privateKey, cose: coseKey(publicKey), rpId, userHandle: options.user.id,
      counter: c.counter ?? 0, synced: c.synced ?? false,
    };
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(key.credentialId.length);
    const authData = Buffer.concat([
      sha256(rpId), Buffer.from([flags(key, c.uv ?? true, true)]), counterBytes(key.counter),
      Buffer.alloc(16), idLength, key.credentialId, Buffer.from(key.cose),
    ]);
    const attestationObject = encodeCBOR(new Map<string, CBORType>([
      ['fmt', 'none'], ['attStmt', new Map<string, CBORType>()], ['authData', new Uint8Array(authData)],
    ]));
    const clientDataJSON = clientData('webauthn.create', options.challenge, c.origin ?? this.origin, c.clientData);
    this.keys.push(key);
    return {
      key,
      response: JSON.stringify({
        id: b64url(key.credentialId), rawId: b64url(key.credentialId), type: 'public-key', clientExtensionResults: {},
        authenticatorAttachment: 'cross-platform',
        response: {
          clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['usb'],
          publicKeyAlgorithm: -7,
        },
      }),
    };
  }

  /** navigator.credentials.get() with this key: the AuthenticationResponseJSON a browser would post. */
  get(options: RequestOptions, key: SoftKey, c: Ceremony = {}): string {
    key.counter = c.counter ?? key.counter + 1;
    const rpId = c.rpId ?? key.rpId;
    const authData = Buffer.concat([sha256(rpId), Buffer.from([flags(key, c.uv ?? true, false)]), counterBytes(key.counter)]);
    const clientDataJSON = clientData('webauthn.get', options.challenge, c.origin ?? this.origin, c.clientData);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), key.privateKey);
    return JSON.stringify({
      id: b64url(key.credentialId), rawId: b64url(key.credentialId), type: 'public-key', clientExtensionResults: {},
      authenticatorAttachment: 'cross-platform',
      response: {
        clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature),
        userHandle: key.userHandle,
      },
    });
  }
}

/** The options a passkey form carries (data-passkey-options), from a page's HTML. */
export function passkeyOptionsOf(html: string): { challenge: string; rp: { id?: string }; user: { id: string }; rpId?: string; allowCredentials?: { id: string }[]; userVerification?: string } {
  const raw = /data-passkey-options="([^"]+)"/.exec(html)?.[1];
  if (!raw) throw new Error(`no passkey form on the page: ${html.slice(0, 300)}`);
  const text = raw.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(parseInt(n, 16)))
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return JSON.parse(text);
}

/** The action of the passkey form on a page. */
export function passkeyActionOf(html: string): string {
  const m = /<form[^>]*action="([^"]+)"[^>]*data-passkey=/.exec(html);
  if (!m) throw new Error('no passkey form on the page');
  return m[1]!.replace(/&amp;/g, '&');
}
