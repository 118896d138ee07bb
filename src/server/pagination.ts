import { Type, type Static } from '@sinclair/typebox';
import { PalisadeError } from '../core/index.js';

/** Every list endpoint: `?limit=&cursor=` in, `{ items, next? }` out; cursors are opaque keyset positions. */
export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
});
export type ListQuery = Static<typeof ListQuery>;

export function encodeCursor(position: unknown[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): unknown[] | undefined {
  if (cursor === undefined) return undefined;
  try {
    const position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(position)) return position;
  } catch {
    // fall through to the error below
  }
  throw new PalisadeError('invalid_cursor', 'cursor is not one this server returned', { field: 'cursor', hint: 'pass the `next` value of the previous page unchanged' });
}

/** Fetches limit + 1 rows to know whether another page exists. */
export function page<T>(rows: T[], limit: number, positionOf: (row: T) => unknown[]): { items: T[]; next?: string } {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, next: encodeCursor(positionOf(items[items.length - 1]!)) };
}
