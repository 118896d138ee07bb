import { useState, type FormEvent } from 'react';
import { api, query } from '../api.js';
import { Card, Loadable } from '../components.js';
import { useLoad } from '../hooks.js';

interface Line { plan: string; description: string; quantity: number; unit: string; unitPrice: number; amount: number }
interface Estimate { currency: string; containers: { lines: Line[]; total: number }; legacy: { lines: Line[]; total: number }; estimates: string[]; source: string }
interface Costs {
  month: string; elapsed: number; usage: { coreHours: number; imageScans: number };
  scopes: { scope: string; coreHours: number; imageScans: number; billed: boolean }[];
  toDate: Estimate; projected: Estimate;
  prices: { estimates: string[]; source: string };
}

const money = (n: number, currency: string) => new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(n);

function EstimateTable({ estimate, caption }: { estimate: Estimate; caption: string }) {
  return (
    <table>
      <caption>{caption}</caption>
      <thead><tr><th scope="col">Plan</th><th scope="col">Item</th><th scope="col">Quantity</th><th scope="col">Unit price</th><th scope="col">Amount</th></tr></thead>
      <tbody>
        {[...estimate.containers.lines, ...estimate.legacy.lines].map((l) => (
          <tr key={`${l.plan}-${l.description}`}><td>{l.plan}</td><td>{l.description}</td><td>{l.quantity} {l.unit}</td><td>{money(l.unitPrice, estimate.currency)}</td><td>{money(l.amount, estimate.currency)}</td></tr>
        ))}
      </tbody>
      <tfoot>
        <tr><th scope="row" colSpan={4}>Defender for Containers</th><td>{money(estimate.containers.total, estimate.currency)}</td></tr>
        <tr><th scope="row" colSpan={4}>Older plans (Kubernetes + registries)</th><td>{money(estimate.legacy.total, estimate.currency)}</td></tr>
      </tfoot>
    </table>
  );
}

/** The month in one sentence: what it will cost and what that pays for, before any table. */
function plainSummary(c: Costs): string {
  const [year, month] = c.month.split('-').map(Number) as [number, number];
  const hoursInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate() * 24;
  const hoursSoFar = Math.max(c.elapsed, 1e-9) * hoursInMonth;
  const cores = c.usage.coreHours / hoursSoFar;
  const total = money(c.projected.containers.total, c.projected.currency);
  if (c.usage.coreHours === 0 && c.usage.imageScans === 0) return `Nothing has been metered this month yet, so the projection is ${total}.`;
  return `If usage stays as it is, protecting your clusters and registries costs about ${total} this month: `
    + `on average ${cores < 10 ? cores.toFixed(1) : Math.round(cores)} CPU cores protected around the clock so far, and ${c.usage.imageScans} image scan${c.usage.imageScans === 1 ? '' : 's'}.`;
}

export function CostsPage() {
  const costs = useLoad(() => api<Costs>('/costs'), 'costs');
  const [inputs, setInputs] = useState({ cores: '8', hours: '730', images: '100' });
  const [result, setResult] = useState<Estimate | null>(null);
  const [error, setError] = useState<string | null>(null);
  const calculate = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      setResult(await api<Estimate>(`/costs/estimate${query(inputs)}`));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <h1>Costs</h1>
      <Card title="This month's estimate">
        <Loadable state={costs} what="Costs">
          {(c) => (
            <>
              <p className="big">{money(c.projected.containers.total, c.projected.currency)} <span className="muted">projected for {c.month} (Defender for Containers)</span></p>
              <p>{plainSummary(c)}</p>
              <p>Metered so far: {c.usage.coreHours.toFixed(1)} core-hours and {c.usage.imageScans} image scans ({Math.round(c.elapsed * 100)}% of the month elapsed).
                {' '}<span className="muted">A core-hour is one CPU core of a protected node running for one hour; each image pushed or rescanned counts once.</span></p>
              <EstimateTable estimate={c.projected} caption="Projected for the whole month" />
              <EstimateTable estimate={c.toDate} caption="Usage so far" />
              <h3>Usage by scope</h3>
              {c.scopes.length ? (
                <table>
                  <thead><tr><th scope="col">Scope</th><th scope="col">Core-hours</th><th scope="col">Image scans</th><th scope="col">Billed</th></tr></thead>
                  <tbody>{c.scopes.map((s) => <tr key={s.scope}><td>{s.scope}</td><td>{s.coreHours.toFixed(1)}</td><td>{s.imageScans}</td><td>{s.billed ? 'yes' : 'no (plan off)'}</td></tr>)}</tbody>
                </table>
              ) : <p className="muted">No usage metered this month yet: node heartbeats and image scans are metered as they arrive.</p>}
              <p className="note" role="note">These are estimates from list prices ({c.prices.source}). Estimated figures: {c.prices.estimates.join(', ') || 'none'}. Set <code>prices</code> in palisade.yaml to use your agreement.</p>
            </>
          )}
        </Loadable>
      </Card>
      <Card title="Calculator">
        <form className="inline" onSubmit={calculate} aria-label="Cost calculator">
          <label>vCores <input type="number" min={0} step="any" required value={inputs.cores} onChange={(e) => setInputs({ ...inputs, cores: e.target.value })} /></label>
          <label>Hours running <input type="number" min={0} max={744} step="any" required value={inputs.hours} onChange={(e) => setInputs({ ...inputs, hours: e.target.value })} /></label>
          <label>Image scans <input type="number" min={0} step={1} required value={inputs.images} onChange={(e) => setInputs({ ...inputs, images: e.target.value })} /></label>
          <button type="submit">Calculate</button>
        </form>
        {error ? <p role="alert" className="error">{error}</p> : null}
        {result ? <div role="region" aria-live="polite" aria-label="Calculator result"><EstimateTable estimate={result} caption="Calculated monthly estimate" /></div> : null}
      </Card>
    </>
  );
}
