// ham_events_total: the events in the log by entity and condition type,
// counted once from the log when the listener starts (a bounded page a turn)
// and then as they are committed. Bounded by the log itself (the store bounds
// it) and by the entities and condition types it names.
import type { ViewSource } from '../protocol/view-source.js';
import type { EventView } from '../protocol/views.js';
import { follow } from './follow.js';

export class EventCounts {
  readonly byEntity = new Map<string, Map<string, number>>();
  private stopFn: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly source: ViewSource) {}

  async start(): Promise<void> {
    this.stopFn = await follow(this.source, 0, {
      deliver: (events) => (this.add(events), !this.stopped),
      room: () => new Promise((r) => setImmediate(r)),
      gone: () => this.stopped,
    });
  }

  private add(events: EventView[]): void {
    for (const e of events) {
      let m = this.byEntity.get(e.entity);
      if (!m) this.byEntity.set(e.entity, (m = new Map()));
      m.set(e.condition, (m.get(e.condition) ?? 0) + 1);
    }
  }

  stop(): void {
    this.stopped = true;
    this.stopFn?.();
  }
}
