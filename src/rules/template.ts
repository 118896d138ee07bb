import { compileFirst, type EventSchema } from './condition.js';

/**
 * Rule titles that fill in event fields, as Falco's `output`: `%user.username created
 * %objectRef.name` names the user and object of the event that fired. A field is a path of the
 * condition language (shorthands too); one the event lacks prints `<NA>`, as in Falco, and `%%` is
 * a literal percent sign. Titles without `%` cost nothing per alert.
 */
const FIELD = /%%|%([A-Za-z_][\w-]*(?:\[\])?(?:\.[A-Za-z_][\w-]*(?:\[\])?|\["[^"]+"\])*)/g;

export type Title<E> = (event: E) => string;

export function compileTitle<E>(template: string, schema: EventSchema<E>, where: string): Title<E> {
  if (!template.includes('%')) return () => template;
  const parts: Array<string | ((event: E) => unknown)> = [];
  let at = 0;
  for (const m of template.matchAll(FIELD)) {
    parts.push(template.slice(at, m.index));
    parts.push(m[0] === '%%' ? '%' : compileFirst(m[1]!, schema, `${where} %${m[1]!}`));
    at = m.index + m[0].length;
  }
  parts.push(template.slice(at));
  return (event) => {
    let out = '';
    for (const part of parts) out += typeof part === 'string' ? part : show(part(event));
    return out;
  };
}

function show(value: unknown): string {
  if (value === undefined || value === null || value === '') return '<NA>';
  if (Array.isArray(value)) return value.map(show).join(',');
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
