import { inflateSync } from 'node:zlib';
import { Chunks, elfSection, isElf, isExecutable } from './elf.js';
import { purl } from './purl.js';
import type { Cataloger, FileAnalysis, FileBytes, FileFacts, FileSink } from './types.js';

/**
 * Rust binaries built with cargo-auditable: a zlib-compressed JSON dependency list in the
 * `.dep-v0` ELF section. Section headers sit at the end of the file, so ELF executables up to
 * MAX_BYTES are held while they stream past (one at a time) and dropped right after.
 */
const MAX_BYTES = 32 * 1024 * 1024;

interface AuditData {
  packages?: Array<{ name?: string; version?: string; source?: string; kind?: string }>;
}

export function parseCargoAuditable(section: Buffer, path: string): FileAnalysis {
  let doc: AuditData;
  try {
    doc = JSON.parse(inflateSync(section, { maxOutputLength: 16 * 1024 * 1024 }).toString('utf8')) as AuditData;
  } catch {
    return { warnings: [`rust: ${path}: unreadable .dep-v0 section`] };
  }
  const packages = (doc.packages ?? [])
    // Only crates from a registry are in crates.io's advisory database; build-time crates never ship.
    .filter((p) => p.name && p.version && p.kind !== 'build' && (p.source ?? 'crates.io') === 'crates.io')
    .map((p) => ({ name: p.name!, version: p.version!, ecosystem: 'crates.io', purl: purl('cargo', undefined, p.name!, p.version!), path }));
  return { packages };
}

function rustSink(facts: FileFacts): FileSink {
  // Chunks are kept by reference (no copies) and dropped as soon as the file is not an ELF or too big.
  let chunks = new Chunks();
  let state: 'head' | 'hold' | 'skip' = 'head';
  return {
    write(chunk) {
      if (state === 'skip') return;
      chunks.push(chunk);
      if (state === 'head' && chunks.length >= 4) state = isElf(chunks.slice(0, 4)) ? 'hold' : 'skip';
      if (state === 'skip' || chunks.length > MAX_BYTES) {
        state = 'skip';
        chunks = new Chunks();
      }
    },
    end() {
      if (state !== 'hold') return undefined;
      const section = elfSection(chunks, '.dep-v0');
      chunks = new Chunks();
      return section ? parseCargoAuditable(section, facts.path) : {};
    },
  };
}

/** As rustSink, reading only the ELF header, the section table and the section where the file lies. */
function rustInspect(facts: FileFacts, bytes: FileBytes): FileAnalysis | undefined {
  if (bytes.length < 4 || !isElf(bytes.slice(0, 4))) return undefined;
  const section = elfSection(bytes, '.dep-v0');
  return section ? parseCargoAuditable(section, facts.path) : {};
}

export const rustCataloger: Cataloger = {
  name: 'rust',
  version: 1,
  streams: (f) => isExecutable(f) && f.size <= MAX_BYTES,
  sink: rustSink,
  inspect: rustInspect,
};
