import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/**
 * Summarises a server .cpuprofile (from `npm run bench -- --profile DIR`):
 * self and inclusive time of the event-loop thread by package and by
 * function, within one phase's window (the bench prints it).
 *
 *   node dist/bench/profile-summary.js FILE [--window START:END] [--top 30] [--match REGEX]
 */
interface Frame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: Frame; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { window: { type: 'string' }, top: { type: 'string', default: '30' }, match: { type: 'string' } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: node dist/bench/profile-summary.js FILE [--window START:END] [--top N] [--match REGEX]\n');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const [from, to] = values.window ? values.window.split(':').map(Number) as [number, number] : [0, Number.POSITIVE_INFINITY];
const top = Number(values.top);

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const self = new Map<number, number>();
let t = prof.startTime;
for (let i = 0; i < prof.samples.length; i += 1) {
  t += prof.timeDeltas[i] ?? 0;
  const dt = prof.timeDeltas[i + 1] ?? 0;
  if (t < from || t > to) continue;
  self.set(prof.samples[i]!, (self.get(prof.samples[i]!) ?? 0) + dt);
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
const where = (url: string) => {
  if (!url) return '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.includes('/dist/src/')) return `pharmid:${url.split('/dist/src/')[1]}`;
  return url.replace(/^file:\/\//, '');
};
const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const ms = (us: number) => (us / 1000).toFixed(0).padStart(7);

const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
const out: string[] = [`window ${(total / 1e6).toFixed(2)} s: busy ${ms(total - idle).trim()} ms, idle ${ms(idle).trim()} ms`];

function group(key: (n: ProfileNode) => string): [string, number][] {
  const m = new Map<string, number>();
  for (const [id, v] of self) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') continue;
    const k = key(n);
    m.set(k, (m.get(k) ?? 0) + v);
  }
  return [...m].sort((a, b) => b[1] - a[1]);
}

out.push('', 'self time by package:');
for (const [k, v] of group((n) => (SPECIAL.has(n.callFrame.functionName) ? n.callFrame.functionName : where(n.callFrame.url))).slice(0, top)) out.push(`${ms(v)} ms  ${k}`);
out.push('', 'self time by function:');
for (const [k, v] of group(label).slice(0, top)) out.push(`${ms(v)} ms  ${k}`);

const inclusive = new Map<string, number>();
for (const [id, v] of self) {
  if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(byId.get(cur)!);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + v);
  }
}
const pattern = values.match ? new RegExp(values.match) : /pharmid:|oidc-provider|ejs|jose|ioredis|pg|koa/;
out.push('', `inclusive time, frames matching ${pattern}:`);
for (const [k, v] of [...inclusive].filter(([k]) => pattern.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`${ms(v)} ms  ${k}`);
process.stdout.write(`${out.join('\n')}\n`);
