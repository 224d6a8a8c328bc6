// Cluster events (README "Cluster"): an occurrence of type `cluster` on the global entity `*`,
// so that `cluster` conditions there fire (an execute that pages someone) and `ham events`
// shows them. Recording one never stops the cluster's work: a failure is a warning.
import type { ClusterEventKind, Occurrence } from '../model/conditions.js';
import { GLOBAL } from '../model/records.js';
import type { ClusterPort } from './port.js';

export function clusterEvent(port: ClusterPort, c: { event: ClusterEventKind; entity?: string; node?: string; token?: string }, detail?: string): void {
  const o: Occurrence = { entity: GLOBAL, type: 'cluster', cluster: c, ...(detail ? { detail } : {}) };
  try {
    if (!port.supervisor.get(GLOBAL)) port.supervisor.createGlobal();
    void port.supervisor.occur(o).catch((e: Error) => port.log('warn', 'cluster: an event was not recorded', { event: c.event, error: e.message }));
  } catch (e) {
    port.log('warn', 'cluster: an event was not recorded', { event: c.event, error: (e as Error).message });
  }
}
