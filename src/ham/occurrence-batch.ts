// Occurrences reported from outside (raise, state, heartbeat misses):
// those arriving in the same turn share one fenced transaction, a bounded
// batch per turn so timers (heartbeat deadlines) run between batches.
import { failpoint } from '../failpoints.js';
import type { Occurrence } from '../model/conditions.js';
import type { EntityRecord } from '../model/records.js';
import { emptyFired } from './dispatch.js';
import { unknownEntity, type SupervisorCore } from './supervisor-core.js';

const OCCURRENCES_PER_TXN = 128;

interface Pending {
  occurrence: Occurrence;
  resolve: (seq: number) => void;
  reject: (e: Error) => void;
  seenAt: number;
}

export class OccurrenceBatch {
  private pending: Pending[] = [];

  constructor(private readonly core: SupervisorCore) {}

  /** Record an occurrence; resolves with its event's seq once committed. */
  occur(occurrence: Occurrence): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push({ occurrence, resolve, reject, seenAt: performance.now() });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending.splice(0, OCCURRENCES_PER_TXN);
    if (this.pending.length) setImmediate(() => this.flush());
    this.flushBatch(batch);
  }

  /** One transaction for the batch; if it fails, each occurrence alone (one bad one must not sink the rest). */
  private flushBatch(batch: Pending[]): void {
    const { store } = this.core;
    const fired = emptyFired();
    fired.seenAt = batch[0]?.seenAt;
    const seqs: number[] = [];
    try {
      this.core.write(() => {
        const touched = new Map<string, EntityRecord>();
        for (const { occurrence: o } of batch) {
          const rec = touched.get(o.entity) ?? store.entity(o.entity);
          if (!rec) throw unknownEntity(o.entity);
          touched.set(o.entity, rec);
          const made = o.key === undefined ? undefined : store.keyedSeq(o.key);
          if (made !== undefined) {
            seqs.push(made); // sent again after a takeover: it happened once
            continue;
          }
          if (o.state) {
            o.state.from = rec.userState;
            rec.userState = o.state.to;
          }
          if (o.type === 'heartbeat-missed-low') rec.heartbeatState = 'missed-low';
          if (o.type === 'heartbeat-missed-high') rec.heartbeatState = 'missed-high';
          const first = fired.events.length;
          this.core.with.dispatcher.fireInTxn(o, rec, fired);
          seqs.push(fired.events[first]!.seq);
        }
        for (const rec of touched.values()) store.putEntity(rec);
      });
    } catch (e) {
      if (batch.length > 1) for (const p of batch) this.flushBatch([p]);
      else batch[0]?.reject(e as Error);
      return;
    }
    this.core.publish(fired);
    failpoint('occurrences-committed'); // crash tests: committed, not yet answered
    batch.forEach((p, i) => p.resolve(seqs[i]!));
  }
}
