import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';

/** A validator for SPDX 2.3 JSON documents: the spec's own JSON schema (spdx/README.md), draft-07, every error reported. */
export function spdxValidator(): (document: unknown) => string[] {
  const schema = JSON.parse(readFileSync(path.join(import.meta.dirname, 'spdx', 'spdx-schema-2.3.json'), 'utf8')) as Record<string, unknown>;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  return (document) => (validate(document) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
}
