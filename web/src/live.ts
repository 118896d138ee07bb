import { useEffect, useRef } from 'react';
import type { Alert } from './api.js';

/** New alerts from GET /api/v1/events (server-sent events; the session cookie authenticates). */
export function useLiveAlerts(enabled: boolean, onAlert: (alert: Alert) => void, onState?: (connected: boolean) => void): void {
  const handler = useRef(onAlert);
  handler.current = onAlert;
  const stateHandler = useRef(onState);
  stateHandler.current = onState;
  useEffect(() => {
    if (!enabled) return;
    const source = new EventSource('/api/v1/events', { withCredentials: true });
    source.addEventListener('alert', (event) => handler.current(JSON.parse((event as MessageEvent<string>).data) as Alert));
    source.onopen = () => stateHandler.current?.(true);
    source.onerror = () => stateHandler.current?.(false);
    return () => source.close();
  }, [enabled]);
}
