import type { TestPharmid } from './pharmid.js';
import { sleep } from './portals.js';

type Db = TestPharmid['deps']['db'];

/** Waits until `n` backends of this test's database wait on a lock. */
export async function untilWaitingOnLocks(db: Db, n: number, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i += 1) {
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (rows[0]!.n >= n) return;
    await sleep(20);
  }
  throw new Error(`never ${n} waiting on a lock`);
}

/**
 * Forces a race for the person's row: a test transaction holds it while `act`
 * (an administrator's) and then `racer` queue behind it, so `act` gets the row
 * first. Returns the racer's answer.
 */
export async function raceBehindRow<T>(db: Db, userId: string, act: () => Promise<unknown>, racer: () => Promise<T>): Promise<T> {
  const holder = await db.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId]);
    const acted = act();
    await untilWaitingOnLocks(db, 1);
    const raced = racer();
    await untilWaitingOnLocks(db, 2);
    await holder.query('COMMIT');
    await acted;
    return await raced;
  } finally {
    holder.release();
  }
}
