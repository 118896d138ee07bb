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
  throw invalidCursor();
}

const invalidCursor = () => new PalisadeError('invalid_cursor', 'cursor is not one this server returned', { field: 'cursor', hint: 'pass the `next` value of the previous page unchanged' });

/** A position part: any string, or a timestamp string the list sorts by. */
type CursorPart = 'string' | 'time';

/**
 * A cursor decoded and checked against the position its list writes: a made-up or foreign
 * cursor is a 400 naming the cursor, never a query run with a wrong type (a 500 in the store).
 */
export function decodeCursorAs<const S extends readonly CursorPart[]>(cursor: string | undefined, shape: S): { -readonly [K in keyof S]: string } | undefined {
  const position = decodeCursor(cursor);
  if (position === undefined) return undefined;
  const fits = position.length === shape.length && shape.every((part, i) => {
    const value = position[i];
    return typeof value === 'string' && value.length <= 512 && (part === 'string' || !Number.isNaN(Date.parse(value)));
  });
  if (!fits) throw invalidCursor();
  return position as { -readonly [K in keyof S]: string };
}

/** Fetches limit + 1 rows to know whether another page exists. */
export function page<T>(rows: T[], limit: number, positionOf: (row: T) => unknown[]): { items: T[]; next?: string } {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, next: encodeCursor(positionOf(items[items.length - 1]!)) };
}
