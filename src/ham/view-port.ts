// The core's side of the HTTP listener (protocol/view-source.ts): views built
// as the control socket's are, and the figures the HAM already keeps. Nothing
// here counts anything new on a hot path.
import type { DetectorsView } from '../protocol/views.js';
import type { ViewSource } from '../protocol/view-source.js';
import type { Store } from '../store/store.js';
import { eventView, type EventHub } from './events.js';
import { eventsPage, statusPage } from './pages.js';
import type { Supervisor } from './supervisor.js';

export function viewPort(o: {
  store: Store;
  supervisor: Supervisor;
  hub: EventHub;
  detectors: { view(): DetectorsView; readonly checksRun: number };
  connections: () => number;
}): ViewSource {
  const { store, supervisor, hub } = o;
  const live = (n: string): ReturnType<Supervisor['heartbeatView']> => supervisor.heartbeatView(n);
  return {
    status: async () => {
      const first = statusPage(store, {}, live);
      const entities = [...first.entities];
      // A page a turn, as a client's pages would come: a big home does not hold the loop.
      for (let next = first.next; next !== null;) {
        await new Promise((r) => setImmediate(r));
        const page = statusPage(store, { after: next }, live);
        entities.push(...page.entities);
        next = page.next;
      }
      const { next: _next, ...view } = first;
      return { ...view, entities };
    },
    events: (since, limit) => eventsPage(store, { since, limit }),
    onEvents: (fn) => hub.listen((events) => fn(events.map(eventView))),
    detectors: () => o.detectors.view(),
    figures: () => {
      const f = supervisor.figures(false);
      const mem = process.memoryUsage();
      return {
        ...f,
        checksRun: o.detectors.checksRun,
        actionDurations: supervisor.actionDurations(),
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        controlConnections: o.connections(),
      };
    },
  };
}
