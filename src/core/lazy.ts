/**
 * Dependencies loaded on first use instead of at import. The server imports some 2,100 files
 * before it can answer (about 0.3 ms each here); a library only some requests or some set-ups
 * need (YAML output, e-mail, the AWS SDK for ECR, rpm databases, the PostgreSQL driver beside
 * the embedded database) should not be among them.
 */
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/** A getter that loads `name` (a package with a CommonJS entry) the first time it is called. */
export function lazyModule<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireHere(name) as T);
}

/** The `yaml` package: rule files without a prebuilt form, palisade.yaml, YAML output. */
export const yamlLibrary = lazyModule<typeof import('yaml')>('yaml');
