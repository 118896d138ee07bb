import { isElf, isExecutable, PROGRAM_HEADERS_WITHIN, readUvarint, writableDataRange } from './elf.js';
import { purl } from './purl.js';
import type { Cataloger, FileAnalysis, FileBytes, FileFacts, FileSink, FoundPackage } from './types.js';

/**
 * Go binaries: the module build info the linker embeds (`go version -m`). Since Go 1.18 the
 * `.go.buildinfo` blob holds its strings inline right after a 32-byte header, so it can be found
 * by streaming past the binary once, without holding the file. Older pointer-format binaries are
 * reported as unsupported.
 */
const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const MODINFO_MAX = 1024 * 1024;
const INFO_START = '3077af0c9274080241e1c107e6d618e6';

export function parseModinfo(modinfo: string, goVersion: string, path: string): FoundPackage[] {
  // modinfo is framed by two 16-byte sentinels (cmd/go/internal/modload: infoStart, infoEnd).
  const framed = modinfo.length >= 32 && Buffer.from(modinfo.slice(0, 16), 'latin1').toString('hex') === INFO_START;
  const text = framed ? modinfo.slice(16, -16) : modinfo;
  const packages: FoundPackage[] = [];
  const mods = new Map<string, { version: string; main: boolean }>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if ((f[0] === 'mod' || f[0] === 'dep') && f[1] && f[2]) {
      mods.set(f[1], { version: f[2], main: f[0] === 'mod' });
      last = f[1];
    } else if (f[0] === '=>' && last && f[2]) {
      // A replacement: the code that shipped is the replacement module at its version.
      const main = mods.get(last)?.main ?? false;
      mods.delete(last);
      if (f[1] && !f[1].startsWith('.') && !f[1].startsWith('/')) mods.set(f[1], { version: f[2], main });
    }
  }
  for (const [name, { version }] of mods) {
    if (version === '(devel)' || !version) continue;
    packages.push({ name, version, ecosystem: 'Go', purl: purl('golang', undefined, name, version), path });
  }
  const m = /^go(\d+(?:\.\d+)*)/.exec(goVersion);
  if (m) packages.push({ name: 'stdlib', version: `v${m[1]}`, ecosystem: 'Go', purl: purl('golang', undefined, 'stdlib', `v${m[1]}`), path });
  return packages;
}

/** Parses build info starting at the magic; undefined until enough bytes have arrived. */
export function parseBuildInfo(data: Buffer, path: string): FileAnalysis | 'need-more' {
  if (data.length < 32) return 'need-more';
  const flags = data[15]!;
  if ((flags & 2) === 0) return { warnings: [`go: ${path} was built before Go 1.18 (pointer-format build info is not read)`] };
  const version = readUvarint(data, 32);
  if (!version) return data.length > 64 ? { warnings: [`go: ${path}: unreadable build info`] } : 'need-more';
  const [vlen, vstart] = version;
  const mod = readUvarint(data, vstart + vlen);
  if (!mod) return data.length > vstart + vlen + 10 ? { warnings: [`go: ${path}: unreadable build info`] } : 'need-more';
  const [mlen, mstart] = mod;
  if (mlen > MODINFO_MAX) return { warnings: [`go: ${path}: build info too large`] };
  if (data.length < mstart + mlen) return 'need-more';
  const goVersion = data.toString('utf8', vstart, vstart + vlen);
  const modinfo = data.toString('latin1', mstart, mstart + mlen);
  return { packages: parseModinfo(modinfo, goVersion, path) };
}

function goSink(facts: FileFacts): FileSink {
  let state: 'head' | 'search' | 'collect' | 'done' | 'skip' = 'head';
  let head: Buffer = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  let collected: Buffer[] = [];
  let collectedBytes = 0;
  let result: FileAnalysis | undefined;
  const tryParse = () => {
    const parsed = parseBuildInfo(Buffer.concat(collected), facts.path);
    if (parsed !== 'need-more') {
      result = parsed;
      state = 'done';
      collected = [];
    } else if (collectedBytes > MODINFO_MAX + 64) {
      result = { warnings: [`go: ${facts.path}: build info too large`] };
      state = 'done';
    }
  };
  const found = (from: Buffer) => {
    state = 'collect';
    collected = [from];
    collectedBytes = from.length;
    tryParse();
  };
  // Only the writable data segments can hold the blob (what Go's debug/buildinfo reads), so the
  // rest of a binary — most of it, and all of a C binary's code — is skipped unsearched.
  let range = { start: 0, end: Infinity };
  let position = 0;
  // Searched in place: only a magic straddling two chunks needs the few carried-over bytes.
  const search = (chunk: Buffer, chunkStart: number) => {
    if (chunkStart >= range.end) {
      state = 'done';
      return;
    }
    const from = Math.max(range.start - chunkStart, 0);
    const to = Math.min(range.end - chunkStart, chunk.length);
    if (from >= to) return;
    const window = chunk.subarray(from, to);
    // The seam takes at most the window's bytes: a window shorter than the magic (a sliver of a
    // chunk, or the segment's last bytes) must not make what follows it in the chunk disappear.
    const seamBytes = Math.min(MAGIC.length - 1, window.length);
    if (tail.length) {
      const seam = Buffer.concat([tail, window.subarray(0, seamBytes)]);
      const at = seam.indexOf(MAGIC);
      if (at >= 0) return found(Buffer.concat([seam.subarray(at), chunk.subarray(from + seamBytes)]));
    }
    const at = window.indexOf(MAGIC);
    if (at >= 0) return found(chunk.subarray(from + at));
    // The last bytes searched, across chunks: a sliver shorter than the magic keeps the tail before it.
    tail = window.length >= MAGIC.length - 1
      ? Buffer.from(window.subarray(window.length - (MAGIC.length - 1)))
      : Buffer.concat([tail, window]).subarray(-(MAGIC.length - 1));
  };
  return {
    write(chunk) {
      const chunkStart = position;
      position += chunk.length;
      if (state === 'done' || state === 'skip') return;
      if (state === 'head') {
        // The first piece is taken as it is (no copy of up to 1 MiB per executable); only a header split across pieces is joined.
        head = head.length ? Buffer.concat([head, chunk]) : chunk;
        if (head.length < 4) return;
        if (!isElf(head)) {
          state = 'skip';
          return;
        }
        const data = writableDataRange(head);
        if (data === 'need-more' && head.length < PROGRAM_HEADERS_WITHIN) return;
        // Headers out of reach or no data segment: search the whole file rather than miss a Go binary.
        if (data && data !== 'need-more') range = data;
        state = 'search';
        search(head, 0);
        return;
      }
      if (state === 'search') search(chunk, chunkStart);
      else if (state === 'collect') {
        collected.push(chunk);
        collectedBytes += chunk.length;
        tryParse();
      }
    },
    end() {
      if (state === 'skip' || state === 'head') return undefined;
      // An ELF binary without Go build info: recorded empty, so it replaces a Go binary at the same path.
      return result ?? {};
    },
  };
}

/** Pieces in which goInspect searches the data segments (a Go binary's are tens of MiB). */
const SEARCH_PIECE = 1024 * 1024;
/** What goInspect reads of the build info first: its strings are a few KiB in practice. */
const FIRST_READ = 64 * 1024;

/**
 * As goSink, reading by position: the program headers, the writable data segments (searched for
 * the magic) and the build info after it. A 100 MiB Go binary in a layer read in place costs a
 * few MiB of reads instead of all of it.
 */
function goInspect(facts: FileFacts, bytes: FileBytes): FileAnalysis | undefined {
  if (bytes.length < 4) return undefined;
  const head = bytes.slice(0, Math.min(bytes.length, PROGRAM_HEADERS_WITHIN));
  if (!isElf(head)) return undefined;
  const data = writableDataRange(head);
  // Program headers past the end of a short file: the sink would still be waiting for them, and answer nothing.
  if (data === 'need-more') return undefined;
  const range = data ?? { start: 0, end: bytes.length };
  const end = Math.min(range.end, bytes.length);
  for (let at = range.start; at < end; at += SEARCH_PIECE) {
    // Each piece reaches into the next by the magic's length less one: a magic across two is found whole.
    const found = bytes.slice(at, Math.min(end, at + SEARCH_PIECE + MAGIC.length - 1)).indexOf(MAGIC);
    if (found >= 0) return buildInfoAt(facts, bytes, at + found);
  }
  // An ELF binary without Go build info: recorded empty, as the sink does.
  return {};
}

/**
 * The build info starting at `at`, read in as many bytes as its own lengths say it holds (a few
 * KiB in practice): what the sink answers once it has collected that much, or `{}` when the file
 * ends first. Only a version string longer than any real one is refused unread.
 */
function buildInfoAt(facts: FileFacts, bytes: FileBytes, at: number): FileAnalysis {
  let length = FIRST_READ;
  for (;;) {
    const data = bytes.slice(at, Math.min(bytes.length, at + length));
    const parsed = parseBuildInfo(data, facts.path);
    if (parsed !== 'need-more') return parsed;
    if (at + data.length >= bytes.length) return {};
    const wanted = buildInfoLength(data);
    if (wanted > 2 * MODINFO_MAX) return { warnings: [`go: ${facts.path}: build info too large`] };
    length = Math.max(wanted, data.length + 1);
  }
}

/** How many bytes from the magic the build info needs, as far as the lengths read so far tell (more when they say more). */
function buildInfoLength(data: Buffer): number {
  const version = readUvarint(data, 32);
  if (!version) return data.length + 64;
  const [vlen, vstart] = version;
  const mod = readUvarint(data, vstart + vlen);
  if (!mod) return vstart + vlen + 10;
  const [mlen, mstart] = mod;
  return mstart + mlen;
}

export const goCataloger: Cataloger = {
  name: 'go',
  // 3: build info found across pieces shorter than its magic (a sliver between two inflated chunks).
  version: 3,
  streams: (f) => isExecutable(f) && f.size <= 1024 ** 3,
  sink: goSink,
  inspect: goInspect,
};
