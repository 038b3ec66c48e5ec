import argon2 from 'argon2';
import { PasswordHasher, type Argon2Settings } from '../src/domain/passwords.js';

/** argon2id with pharmid's parameters and its own PasswordHasher, ready to verify. */
export interface Argon2Probe {
  hasher: PasswordHasher;
  hash: string;
  password: string;
  concurrency: number;
  /** Wall time of one verify on its own (median of 5). */
  singleMs: number;
  /** CPU time of one verify on its own (mean of those 5): the most robust figure on a busy machine. */
  cpuMsPerVerify: number;
}

export async function calibrateArgon2(settings: Omit<Argon2Settings, 'maxConcurrent'>, concurrency: number): Promise<Argon2Probe> {
  const hasher = new PasswordHasher({ ...settings, maxConcurrent: concurrency });
  const password = 'plum orchard lantern benchmark';
  const hash = await hasher.hash(password, undefined);
  if (!hash.startsWith('$argon2id$')) throw new Error(`not an argon2id hash: ${hash.slice(0, 12)}`);
  if (!(await hasher.verify(hash, password, undefined))) throw new Error('argon2 verify failed');
  const walls: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < 5; i += 1) {
    const t0 = performance.now();
    await argon2.verify(hash, password);
    walls.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  walls.sort((a, b) => a - b);
  return { hasher, hash, password, concurrency, singleMs: walls[2]!, cpuMsPerVerify: (cpu.user + cpu.system) / 1000 / 5 };
}

/**
 * One run of the ceiling: argon2id verifies per second, `concurrency` (the
 * number of cores) at once, in this process while the server sits idle. A
 * sign-in can never beat it: each one verifies a password.
 */
export async function ceilingRun(p: Argon2Probe, seconds: number): Promise<{ perSecond: number; verifies: number; cpuMs: number }> {
  let verifies = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: p.concurrency }, async () => {
    while (performance.now() < end) {
      await p.hasher.verify(p.hash, p.password, undefined);
      verifies += 1;
    }
  }));
  const perSecond = verifies / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  return { perSecond, verifies, cpuMs: (cpu.user + cpu.system) / 1000 };
}
