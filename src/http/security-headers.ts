import helmet from 'koa-helmet';
import type Koa from 'koa';

/**
 * Headers for pharmid's own pages: a strict Content-Security-Policy (nothing
 * from elsewhere, no inline script), no framing, no referrer across origins.
 * form-action is left out: browsers apply it to the redirect back to the
 * portal that follows a sign-in form.
 */
export function securityHeaders(hsts: boolean): Koa.Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        styleSrc: ["'self'"],
        scriptSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: hsts ? { maxAge: 31_536_000 } : false,
    crossOriginEmbedderPolicy: false,
  }) as unknown as Koa.Middleware;
}
