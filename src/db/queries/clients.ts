import type { Db } from '../pool.js';

export interface ClientRow {
  client_id: string;
  name: string;
  metadata: Record<string, unknown>;
  secret_sealed: string | null;
  first_party: boolean;
  require_mfa: boolean;
  disabled_at: Date | null;
  created_at: Date;
}

const columns = 'client_id, name, metadata, secret_sealed, first_party, require_mfa, disabled_at, created_at';

export async function insertClient(db: Db, c: Omit<ClientRow, 'disabled_at' | 'created_at'>): Promise<ClientRow> {
  const { rows } = await db.query<ClientRow>(
    `INSERT INTO clients (client_id, name, metadata, secret_sealed, first_party, require_mfa)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${columns}`,
    [c.client_id, c.name, JSON.stringify(c.metadata), c.secret_sealed, c.first_party, c.require_mfa],
  );
  return rows[0]!;
}

export async function findActiveClient(db: Db, clientId: string): Promise<ClientRow | undefined> {
  const { rows } = await db.query<ClientRow>(
    `SELECT ${columns} FROM clients WHERE client_id = $1 AND disabled_at IS NULL`,
    [clientId],
  );
  return rows[0];
}

export async function listClients(db: Db): Promise<ClientRow[]> {
  const { rows } = await db.query<ClientRow>(`SELECT ${columns} FROM clients ORDER BY created_at, client_id`);
  return rows;
}

export async function deleteClient(db: Db, clientId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM clients WHERE client_id = $1', [clientId]);
  return rowCount === 1;
}

/** Portals registered, leaving out `except` (pharmid's own). */
export async function countClients(db: Db, except = ''): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM clients WHERE client_id <> $1', [except]);
  return Number(rows[0]!.n);
}

export async function listSealedClientSecrets(db: Db): Promise<{ client_id: string; secret_sealed: string }[]> {
  const { rows } = await db.query<{ client_id: string; secret_sealed: string }>(
    'SELECT client_id, secret_sealed FROM clients WHERE secret_sealed IS NOT NULL',
  );
  return rows;
}

export async function resealClientSecret(db: Db, clientId: string, from: string, to: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE clients SET secret_sealed = $3 WHERE client_id = $1 AND secret_sealed = $2',
    [clientId, from, to],
  );
  return rowCount === 1;
}

export async function upsertBuiltInClient(db: Db, c: Omit<ClientRow, 'disabled_at' | 'created_at'>): Promise<ClientRow> {
  const { rows } = await db.query<ClientRow>(
    `INSERT INTO clients (client_id, name, metadata, secret_sealed, first_party, require_mfa)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (client_id) DO UPDATE SET metadata = EXCLUDED.metadata, name = EXCLUDED.name
     RETURNING ${columns}`,
    [c.client_id, c.name, JSON.stringify(c.metadata), c.secret_sealed, c.first_party, c.require_mfa],
  );
  return rows[0]!;
}

export async function findClient(db: Db, clientId: string): Promise<ClientRow | undefined> {
  const { rows } = await db.query<ClientRow>(`SELECT ${columns} FROM clients WHERE client_id = $1`, [clientId]);
  return rows[0];
}

/** Several portals by client_id (unknown ids left out), in one query. */
export async function findClients(db: Db, clientIds: string[]): Promise<ClientRow[]> {
  if (!clientIds.length) return [];
  const { rows } = await db.query<ClientRow>(`SELECT ${columns} FROM clients WHERE client_id = ANY($1::text[])`, [clientIds]);
  return rows;
}

/** Replaces a portal's secret; false when it has none to replace (public or key-authenticated) or is unknown. */
export async function replaceClientSecret(db: Db, clientId: string, sealed: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE clients SET secret_sealed = $2 WHERE client_id = $1 AND secret_sealed IS NOT NULL',
    [clientId, sealed],
  );
  return rowCount === 1;
}

/** Disables (or, with `disabled` false, re-enables) a portal; false when it already was. */
export async function setClientDisabled(db: Db, clientId: string, disabled: boolean): Promise<boolean> {
  const { rowCount } = await db.query(
    disabled
      ? 'UPDATE clients SET disabled_at = now() WHERE client_id = $1 AND disabled_at IS NULL'
      : 'UPDATE clients SET disabled_at = NULL WHERE client_id = $1 AND disabled_at IS NOT NULL',
    [clientId],
  );
  return rowCount === 1;
}
