import { InvalidInput } from '../errors.js';

/** Lists come a page at a time: `page` from 1, at most 100 a page. */
export interface PageRequest { page?: number; perPage?: number }

export interface Paged<T> { items: T[]; page: number; perPage: number; total: number }

export function window(r: PageRequest = {}, defaultPerPage = 50): { page: number; perPage: number; limit: number; offset: number } {
  const page = r.page ?? 1;
  const perPage = r.perPage ?? defaultPerPage;
  if (!Number.isInteger(page) || page < 1 || page > 100_000) throw new InvalidInput('page must be a whole number from 1', 'page');
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) throw new InvalidInput('per_page must be a whole number from 1 to 100', 'per_page');
  return { page, perPage, limit: perPage, offset: (page - 1) * perPage };
}

export function paged<R extends { total: number }, T>(rows: R[], w: { page: number; perPage: number }, map: (r: R) => T): Paged<T> {
  return { items: rows.map(map), page: w.page, perPage: w.perPage, total: rows[0]?.total ?? 0 };
}
