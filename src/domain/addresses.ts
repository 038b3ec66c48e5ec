import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * What a network address is, for the limits that count per address (wrong
 * tries, argon2 places) and for the audit trail.
 *
 * The same client reaches pharmid written many ways: a dual-stack socket or
 * proxy writes IPv4 as `::ffff:203.0.113.5` (or with the zeros written out,
 * or in hex), some proxies append a port (`203.0.113.5:40001`,
 * `[2001:db8::1]:443`), IPv6 may be in upper case. And an IPv6 host is
 * normally given a whole /64: 2^64 addresses it may rotate through at no
 * cost. So the unit that is counted is an IPv4 address, or an IPv6 /64;
 * counting the exact string would give one client as many counts as it has
 * spellings.
 */

/** Longer than any address; a proxy that writes more is counted by a digest of what it wrote. */
const MAX_ADDRESS = 64;

/** An address as 8 groups of 16 bits, or undefined when `text` is not IPv6. */
function ipv6Groups(text: string): number[] | undefined {
  if (!isIPv6(text)) return undefined;
  // A dotted IPv4 ending (`::ffff:203.0.113.5`) stands for the last two groups.
  const hexOnly = text.toLowerCase().replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`);
  const parts = (half: string) => (half === '' ? [] : half.split(':').map((g) => parseInt(g, 16)));
  const [head, back] = hexOnly.split('::');
  const groups = back === undefined
    ? parts(head!)
    : [...parts(head!), ...Array<number>(Math.max(0, 8 - parts(head!).length - parts(back).length)).fill(0), ...parts(back)];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** The IPv4 address an IPv6 one stands for: IPv4-mapped (::ffff:0:0/96) or the well-known NAT64 prefix (64:ff9b::/96). */
function embeddedIpv4(g: number[]): string | undefined {
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (!mapped && !nat64) return undefined;
  return [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join('.');
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function ipv6Text(g: number[]): string {
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i += 1; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j += 1;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

/** Without a port: `1.2.3.4:5678` and `[v6]:5678` (or `[v6]`) lose it; a zone (`fe80::1%eth0`) is dropped too. */
function withoutPort(text: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) return bracketed[1]!.replace(/%.*$/, '');
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  if (v4) return v4[1]!;
  return text.replace(/%.*$/, '');
}

type Parsed = { v4: string } | { v6: number[] } | { other: string };

function parse(address: string): Parsed {
  const text = withoutPort(address.trim());
  if (isIPv4(text)) return { v4: text };
  const groups = ipv6Groups(text);
  if (groups) {
    const v4 = embeddedIpv4(groups);
    return v4 ? { v4 } : { v6: groups };
  }
  // Not an address (a proxy wrote something else): counted as itself, but bounded.
  const bounded = address.length <= MAX_ADDRESS && !/[\s\u0000-\u001f\u007f]/.test(address)
    ? address
    : `unparsed-${createHash('sha256').update(address).digest('hex').slice(0, 32)}`;
  return { other: bounded };
}

/**
 * The address as seen, in one spelling: IPv4-mapped back to IPv4, the port
 * dropped, IPv6 in RFC 5952 form. What the audit trail records.
 */
export function seenAddress(address: string): string {
  const p = parse(address);
  if ('v4' in p) return p.v4;
  if ('v6' in p) return ipv6Text(p.v6);
  return p.other;
}

/**
 * The unit that is counted for `address`: an IPv4 address, an IPv6 /64
 * (`2001:db8:1:2::/64`), or anything else as itself, bounded in length.
 * Every per-address limit (wrong tries, argon2 places) counts by this key.
 */
export function addressKey(address: string): string {
  const p = parse(address);
  if ('v4' in p) return p.v4;
  if ('v6' in p) return `${ipv6Text([...p.v6.slice(0, 4), 0, 0, 0, 0]).replace(/::$/, '')}::/64`;
  return p.other;
}

/**
 * An address an operator typed: any spelling `addressKey` reads, or a /64
 * as pharmid shows it (`2001:db8:1:2::/64`). Undefined when it is neither.
 */
export function typedAddressKey(typed: string): string | undefined {
  const text = typed.trim().replace(/\/64$/, '');
  const p = parse(text);
  if ('other' in p) return undefined;
  return addressKey(text);
}
