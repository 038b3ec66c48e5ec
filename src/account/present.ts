import type { SessionSummary } from '../domain/sessions.js';
import type { PasskeySummary } from '../domain/factors/passkeys.js';

const BROWSERS: [RegExp, string][] = [
  [/Edg(e|A|iOS)?\//, 'Microsoft Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/SamsungBrowser\//, 'Samsung Internet'],
  [/Chrom(e|ium)\/|CriOS\//, 'Chrome'],
  [/Safari\//, 'Safari'],
];

const SYSTEMS: [RegExp, string][] = [
  [/Windows/, 'Windows'],
  [/Android/, 'Android'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/CrOS/, 'ChromeOS'],
  [/Macintosh|Mac OS X/, 'macOS'],
  [/Linux/, 'Linux'],
];

/** "Chrome on Windows", from a User-Agent header; a person recognises their browser by it. */
export function browserName(userAgent: string | undefined): string {
  if (!userAgent) return 'Unknown browser';
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(userAgent))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? (system ? `A browser on ${system}` : 'Unknown browser');
}

const WHEN = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit' });

/** "3 March 2026 at 14:05" (UK time). */
export function when(date: Date): string {
  return WHEN.format(date).replace(/, /, ' at ');
}

export interface SessionRow {
  id: string;
  browser: string;
  signedIn: string;
  lastActive: string;
  portals: string;
  current: boolean;
  endAction: string;
}

/** The account page's view of one session. */
export function sessionRow(s: SessionSummary, currentId: string | undefined): SessionRow {
  // Portals by name; pharmid's own pages last.
  const portals = s.portals.map((p) => p.name).sort((a, b) => Number(a.startsWith('pharmid')) - Number(b.startsWith('pharmid')) || a.localeCompare(b));
  return {
    id: s.id,
    browser: browserName(s.userAgent),
    signedIn: when(s.signedInAt),
    lastActive: when(s.lastActiveAt ?? s.signedInAt),
    portals: portals.length ? portals.join(', ') : 'None yet',
    current: s.id === currentId,
    endAction: `/account/sessions/${encodeURIComponent(s.id)}/end`,
  };
}

/** The account page's view of one passkey: its name, when it was added and last used. */
export function passkeyRow(p: PasskeySummary): { id: string; name: string; added: string; lastUsed: string; kind: string; removeUrl: string; renameUrl: string } {
  return {
    id: p.id,
    name: p.name,
    added: when(p.createdAt),
    lastUsed: p.lastUsedAt ? when(p.lastUsedAt) : 'Not used yet',
    kind: p.synced ? 'Passkey synced between your devices' : 'Kept on one key or device',
    removeUrl: `/account/passkeys/${p.id}/remove`,
    renameUrl: `/account/passkeys/${p.id}/rename`,
  };
}
