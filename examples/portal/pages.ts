/** The demo portal's pages: plain HTML, one small stylesheet, no script. */

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface PortalLook { name: string; colour: string; others: { name: string; url: string }[] }

export interface SignedInView {
  name: string;
  email?: string;
  site?: { ods: string; name: string };
  sites: { ods: string; name: string; role: string }[];
  idTokenClaims: Record<string, unknown>;
  userinfo?: Record<string, unknown>;
  accessTokenExpiresAt: number;
  refreshes: number;
  notice?: string;
}

function layout(look: PortalLook, title: string, body: string): string {
  const others = look.others.map((o) => `<a href="${escapeHtml(o.url)}">${escapeHtml(o.name)}</a>`).join(' · ');
  return `<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – ${escapeHtml(look.name)}</title>
<style>
  body { margin: 0; font-family: Arial, sans-serif; color: #212b32; background: #f0f4f5; }
  header { background: ${look.colour}; color: #fff; padding: 16px 24px; }
  header h1 { margin: 0; font-size: 1.5rem; }
  header p { margin: 4px 0 0; }
  main { max-width: 960px; margin: 0 auto; padding: 24px; }
  section { background: #fff; padding: 16px 24px; margin-bottom: 16px; }
  form { display: inline-block; margin: 0 8px 8px 0; }
  button, .button { font-size: 1rem; padding: 8px 16px; background: ${look.colour}; color: #fff; border: 0; cursor: pointer; text-decoration: none; display: inline-block; }
  button.secondary { background: #4c6272; }
  pre { background: #f0f4f5; padding: 8px; overflow-x: auto; font-size: 0.875rem; }
  .notice { border-left: 8px solid ${look.colour}; padding-left: 12px; }
  nav { margin-top: 8px; font-size: 0.875rem; }
  nav a { color: #fff; }
</style>
</head>
<body>
<header>
  <h1>${escapeHtml(look.name)}</h1>
  <p>A demo portal that signs people in with pharmid</p>
  ${others ? `<nav aria-label="Other demo portals">Other portals: ${others}</nav>` : ''}
</header>
<main>
${body}
</main>
</body>
</html>`;
}

export function signedOutPage(look: PortalLook, notice?: string): string {
  return layout(look, 'Signed out', `
<section>
  <h2 id="status" data-status="signed-out">You are not signed in to ${escapeHtml(look.name)}</h2>
  ${notice ? `<p class="notice" id="notice">${escapeHtml(notice)}</p>` : ''}
  <p><a class="button" id="sign-in" href="/login">Sign in with pharmid</a></p>
  <p><a href="/login?prompt=none">Check for a pharmid session without showing a page (prompt=none)</a></p>
</section>`);
}

export function signedInPage(look: PortalLook, v: SignedInView): string {
  const sites = v.sites.map((s) => `<li>${escapeHtml(s.name)} (${escapeHtml(s.ods)}), ${escapeHtml(s.role)}</li>`).join('');
  const left = Math.max(0, Math.round(v.accessTokenExpiresAt - Date.now() / 1000));
  return layout(look, 'Signed in', `
<section>
  <h2 id="status" data-status="signed-in">Signed in as <span id="signed-in-as">${escapeHtml(v.name)}</span></h2>
  ${v.notice ? `<p class="notice" id="notice">${escapeHtml(v.notice)}</p>` : ''}
  <p>Email: <span id="email">${escapeHtml(v.email ?? '')}</span></p>
  <p>Working at: <strong id="site">${v.site ? `${escapeHtml(v.site.name)} (${escapeHtml(v.site.ods)})` : 'no site chosen'}</strong></p>
  ${sites ? `<p>Your sites:</p><ul id="sites">${sites}</ul>` : ''}
  <p>Access token: expires in <span id="token-expiry">${left}</span> s; refreshed <span id="refreshes">${v.refreshes}</span> times.</p>
  <form method="post" action="/userinfo"><button type="submit">Call userinfo</button></form>
  <form method="post" action="/refresh"><button type="submit">Refresh tokens</button></form>
  <a class="button" href="/login?prompt=select_site">Choose another site</a>
  <form method="post" action="/logout"><button class="secondary" id="sign-out" type="submit">Sign out</button></form>
</section>
<section>
  <h2>ID token claims</h2>
  <pre id="claims">${escapeHtml(JSON.stringify(v.idTokenClaims, null, 2))}</pre>
  ${v.userinfo ? `<h2>Userinfo</h2><pre id="userinfo">${escapeHtml(JSON.stringify(v.userinfo, null, 2))}</pre>` : ''}
</section>`);
}

export function messagePage(look: PortalLook, title: string, message: string): string {
  return layout(look, title, `
<section>
  <h2 id="status" data-status="message">${escapeHtml(title)}</h2>
  <p id="notice">${escapeHtml(message)}</p>
  <p><a href="/">Back to ${escapeHtml(look.name)}</a></p>
</section>`);
}
