import type Koa from 'koa';
import { DEVICE_TRUST_DAYS } from '../domain/trusted-devices.js';

const COOKIE = 'pharmid.device';
/** Only the sign-in steps read it. */
const PATH = '/interaction';

/**
 * The device cookie (trusted-devices.ts), signed with the cookie keys (the
 * app's keys: the first signs, all verify). A value whose signature does not
 * verify is not read: that browser is untrusted.
 */
export function readDeviceCookie(ctx: Koa.Context): string | undefined {
  return ctx.cookies.get(COOKIE, { signed: true }) || undefined;
}

export function setDeviceCookie(ctx: Koa.Context, value: string, secure: boolean): void {
  ctx.cookies.set(COOKIE, value, {
    signed: true, httpOnly: true, sameSite: 'lax', secure, path: PATH, overwrite: true,
    maxAge: DEVICE_TRUST_DAYS * 86_400_000,
  });
}
