import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressBar } from './scan.js';

/** A terminal stand-in: what the bar draws, kept as text. */
function fakeTerminal(): NodeJS.WriteStream & { text: string } {
  const stream = new Writable({ write(chunk, _encoding, done) { stream.text += String(chunk); done(); } }) as unknown as NodeJS.WriteStream & { text: string };
  Object.assign(stream, { text: '', isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, clearScreenDown: () => true });
  return stream;
}

const MiB = 1048576;
/** The bar redraws on a timer (10 per second). */
const redraw = () => new Promise((resolve) => setTimeout(resolve, 250));

describe('scan progress', () => {
  it('counts compressed bytes read against the layers still to read, a finished layer whole, cached layers not at all', async () => {
    const terminal = fakeTerminal();
    const bar = progressBar(terminal);
    bar.update({ type: 'layer-start', index: 0, total: 3, digest: 'sha256:a', size: 2 * MiB, cached: false });
    bar.update({ type: 'layer-start', index: 1, total: 3, digest: 'sha256:b', size: 1 * MiB, cached: false });
    bar.update({ type: 'layer-start', index: 2, total: 3, digest: 'sha256:c', size: 8 * MiB, cached: true });
    // Uncompressed bytes run far ahead of what was read; the display follows what was read.
    bar.update({ type: 'layer-progress', index: 0, compressedBytes: MiB / 2, bytes: 5 * MiB, entries: 10 });
    await redraw();
    expect(terminal.text).toMatch(/0\.5 of 3\.0 MiB read \| 10 files examined/);
    // The last progress event of a layer comes before its end: the finished layer counts whole.
    bar.update({ type: 'layer-done', index: 0, cached: false, entries: 40, bytes: 9 * MiB });
    bar.update({ type: 'layer-done', index: 2, cached: true, entries: 7, bytes: 0 });
    await redraw();
    expect(terminal.text).toMatch(/layers 2\/3 \| 2\.0 of 3\.0 MiB read \| 47 files examined/);
    bar.stop();
  });
});
