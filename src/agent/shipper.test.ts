import { describe, expect, it } from 'vitest';
import { sampleEvent } from './samples.js';
import { splitBatch } from './shipper.js';
import { AGENT_BATCH_MAX_EVENTS } from './wire.js';

describe('splitBatch', () => {
  const event = (i: number, pad = 0) => sampleEvent({ kind: 'exec', id: `e${i}`, process: { name: 'x', exe: '/x', argv: ['x', 'y'.repeat(pad)] } });

  it('keeps batches under the event count and byte limits, in order, with the heartbeat once', () => {
    const events = Array.from({ length: AGENT_BATCH_MAX_EVENTS + 10 }, (_, i) => event(i));
    const batches = splitBatch({ sentAt: 'now', node: { name: 'n' }, heartbeat: { at: 'now' }, events, alerts: [] });
    expect(batches.map((b) => b.events.length)).toEqual([AGENT_BATCH_MAX_EVENTS, 10]);
    expect(batches.flatMap((b) => b.events.map((e) => e.id))).toEqual(events.map((e) => e.id));
    expect(batches.filter((b) => b.heartbeat)).toHaveLength(1);
    expect(new Set(batches.map((b) => b.batchId)).size).toBe(2);

    const big = Array.from({ length: 30 }, (_, i) => event(i, 100_000));
    const bySize = splitBatch({ sentAt: 'now', node: { name: 'n' }, events: big, alerts: [] }, 1_000_000);
    expect(bySize.length).toBeGreaterThan(3);
    for (const b of bySize) expect(Buffer.byteLength(JSON.stringify(b))).toBeLessThan(1_000_000);
    expect(bySize.flatMap((b) => b.events.map((e) => e.id))).toEqual(big.map((e) => e.id));
  });

  it('sends an empty heartbeat batch when nothing was found', () => {
    const [only, ...rest] = splitBatch({ sentAt: 'now', node: { name: 'n' }, heartbeat: { at: 'now' }, events: [], alerts: [] });
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ heartbeat: { at: 'now' }, events: [], alerts: [] });
  });
});
