import { PalisadeError } from '../core/index.js';
import type { Api } from './api.js';
import { printTable } from './table.js';

/** `--limit N` / `--all` over a `{ items, next? }` list endpoint. */
export interface PageFlags {
  limit: string;
  all?: boolean;
}

const PAGE = 500;

export function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) throw new PalisadeError('cli.limit', `--limit must be a positive integer, not ${JSON.stringify(value)}`, { field: '--limit' });
  return limit;
}

/** Reads pages until `limit` items (or all of them with `all`); says whether more were left. */
export async function collectPages<T>(api: Api, path: string, query: Record<string, string | undefined>, flags: PageFlags): Promise<{ items: T[]; more: boolean }> {
  const wanted = flags.all ? Infinity : parseLimit(flags.limit);
  const items: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, value);
    params.set('limit', String(Math.min(PAGE, wanted - items.length)));
    if (cursor) params.set('cursor', cursor);
    const page = await api.request<{ items: T[]; next?: string }>('GET', `${path}?${params}`);
    items.push(...page.items);
    cursor = page.next;
    if (!cursor) return { items, more: false };
    if (items.length >= wanted) return { items, more: true };
  }
}

export function moreNote(shown: number, more: boolean): string | undefined {
  return more ? `showing the first ${shown}; --limit N or --all for more` : undefined;
}

/** Prints a list as JSON (`{ items, more }` plus `extra`) or as a table, saying when it is empty or there is more. */
export function printList<T>(format: string, list: { items: T[]; more: boolean }, empty: string, table: (items: T[]) => string[][], extra: Record<string, unknown> = {}): void {
  if (format === 'json') {
    console.log(JSON.stringify({ ...extra, items: list.items, more: list.more }, null, 2));
    return;
  }
  if (!list.items.length) {
    console.error(empty);
    return;
  }
  printTable(table(list.items));
  const note = moreNote(list.items.length, list.more);
  if (note) console.error(note);
}
