import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import type Koa from 'koa';

/** URLs that pages link to; each carries `?v=<content hash>`, so it may be cached forever. */
export interface AssetUrls {
  readonly nhsukCss: string;
  readonly pharmidCss: string;
  /** The copy button beside an authenticator key (the page works without it). */
  readonly copyKeyJs: string;
  /** The browser side of passkeys (WebAuthn): only pages about passkeys use it. */
  readonly passkeysJs: string;
  readonly faviconIco: string;
  readonly faviconSvg: string;
  readonly appleTouchIcon: string;
}

interface Asset {
  readonly body: Buffer;
  readonly gzip?: Buffer;
  readonly brotli?: Buffer;
  readonly type: string;
  readonly hash: string;
}

interface LoadedAssets {
  readonly files: ReadonlyMap<string, Asset>;
  readonly urls: AssetUrls;
}

const NHSUK_PREFIX = '/assets/nhsuk/';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'public, max-age=0, must-revalidate';

const TYPES: Readonly<Record<string, string>> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

let loaded: LoadedAssets | undefined;

/**
 * Serves nhsuk-frontend (CSS, JS, images) under /assets/nhsuk/ and the pharmid
 * stylesheet at /assets/pharmid.css, all from memory. A request whose `?v=`
 * matches the file's content hash is cached as immutable; any other request
 * revalidates by ETag, so an unversioned link never serves a stale file.
 */
export function serveAssets(): Koa.Middleware {
  const { files } = loadAssets();
  return async (ctx, next) => {
    const asset = files.get(ctx.path);
    if (!asset || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) {
      await next();
      return;
    }
    const encoding = chooseEncoding(ctx, asset);
    ctx.set('Cache-Control', ctx.query['v'] === asset.hash ? IMMUTABLE : REVALIDATE);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.vary('Accept-Encoding');
    ctx.etag = encoding === 'identity' ? asset.hash : `${asset.hash}-${encoding}`;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    if (encoding !== 'identity') ctx.set('Content-Encoding', encoding);
    ctx.body = encoding === 'br' ? asset.brotli : encoding === 'gzip' ? asset.gzip : asset.body;
    ctx.set('Content-Type', asset.type);
  };
}

/** The versioned URLs for the page head; pass them to every view as `assets`. */
export function assetUrls(): AssetUrls {
  return loadAssets().urls;
}

function chooseEncoding(ctx: Koa.Context, asset: Asset): 'br' | 'gzip' | 'identity' {
  if (!asset.brotli || !asset.gzip) return 'identity';
  const accepted = ctx.acceptsEncodings('br', 'gzip', 'identity');
  return accepted === 'br' || accepted === 'gzip' ? accepted : 'identity';
}

function loadAssets(): LoadedAssets {
  loaded ??= buildAssets();
  return loaded;
}

function buildAssets(): LoadedAssets {
  const nhsukDist = path.join(findNhsukRoot(), 'dist', 'nhsuk');
  const files = new Map<string, Asset>();
  const add = (url: string, body: Buffer): Asset => {
    const asset = makeAsset(url, body);
    files.set(url, asset);
    return asset;
  };

  const imagesDir = path.join(nhsukDist, 'assets', 'images');
  for (const name of readdirSync(imagesDir)) {
    if (TYPES[path.extname(name)]) add(`${NHSUK_PREFIX}images/${name}`, readFileSync(path.join(imagesDir, name)));
  }
  for (const name of ['nhsuk-frontend.min.js', 'nhsuk-frontend.min.js.map']) {
    add(NHSUK_PREFIX + name, readFileSync(path.join(nhsukDist, name)));
  }
  const css = rewriteNhsukCss(readFileSync(path.join(nhsukDist, 'nhsuk-frontend.min.css'), 'utf8'), files);
  add(`${NHSUK_PREFIX}nhsuk-frontend.min.css`, Buffer.from(css));
  add('/assets/pharmid.css', readFileSync(path.join(findProjectRoot(), 'views', 'static', 'pharmid.css')));
  add('/assets/copy-key.js', readFileSync(path.join(findProjectRoot(), 'views', 'static', 'copy-key.js')));
  add('/assets/passkeys.js', readFileSync(path.join(findProjectRoot(), 'views', 'static', 'passkeys.js')));

  const favicon = files.get(`${NHSUK_PREFIX}images/favicon.ico`);
  if (favicon) files.set('/favicon.ico', favicon);

  const versioned = (url: string): string => {
    const asset = files.get(url);
    if (!asset) throw new Error(`pharmid asset missing: ${url}`);
    return `${url}?v=${asset.hash}`;
  };
  const urls: AssetUrls = Object.freeze({
    nhsukCss: versioned(`${NHSUK_PREFIX}nhsuk-frontend.min.css`),
    pharmidCss: versioned('/assets/pharmid.css'),
    copyKeyJs: versioned('/assets/copy-key.js'),
    passkeysJs: versioned('/assets/passkeys.js'),
    faviconIco: versioned(`${NHSUK_PREFIX}images/favicon.ico`),
    faviconSvg: versioned(`${NHSUK_PREFIX}images/favicon.svg`),
    appleTouchIcon: versioned(`${NHSUK_PREFIX}images/nhsuk-icon-180.png`),
  });
  return { files, urls };
}

/**
 * The package's CSS loads the Frutiger web font from assets.nhs.uk and points
 * its icons at /assets/images/. Nothing may load from the internet and the
 * package ships no fonts, so the @font-face rules go (the stack falls back to
 * Arial), and the icons point at our own versioned URLs.
 */
function rewriteNhsukCss(css: string, files: ReadonlyMap<string, Asset>): string {
  const rewritten = css
    .replace(/@font-face\s*\{[^}]*\}/g, '')
    .replace(/\/\*# sourceMappingURL=[^*]*\*\//g, '')
    .replace(/url\(\s*(['"]?)\/assets\/images\/([^'")?#]+)\1\s*\)/g, (_match, _quote: string, name: string) => {
      const url = `${NHSUK_PREFIX}images/${name}`;
      const asset = files.get(url);
      if (!asset) throw new Error(`nhsuk-frontend CSS refers to an image the package does not ship: ${name}`);
      return `url("${url}?v=${asset.hash}")`;
    });
  const external = /url\(\s*['"]?(?:[a-z]+:)?\/\/|@import/i.exec(rewritten);
  if (external) throw new Error('nhsuk-frontend CSS still refers to an external resource after rewriting');
  return rewritten;
}

function makeAsset(url: string, body: Buffer): Asset {
  const ext = path.extname(url);
  const type = TYPES[ext];
  if (!type) throw new Error(`pharmid asset of unknown type: ${url}`);
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16);
  if (ext === '.png' || ext === '.ico') return { body, type, hash };
  return {
    body,
    type,
    hash,
    gzip: gzipSync(body, { level: 9 }),
    brotli: brotliCompressSync(body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9 } }),
  };
}

function findNhsukRoot(): string {
  return path.dirname(createRequire(import.meta.url).resolve('nhsuk-frontend/package.json'));
}

/** The folder holding package.json and views/, whether running from src/ or dist/src/. */
function findProjectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'views'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('pharmid cannot find its views/ folder beside package.json');
    dir = parent;
  }
}
