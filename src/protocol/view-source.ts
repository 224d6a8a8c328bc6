// What the HAM's core offers the HTTP listener (src/http/): read-only views,
// the figures it already counts, and its committed events as they come. The
// core builds it (ham/view-port.ts); the daemon hands it over; neither side
// imports the other.
import type { DurationCounts, LatencySummary } from '../latency.js';
import type { StoreUse } from '../model/limits.js';
import type { DetectorsView, EventsPage, EventView, StatusView } from './views.js';

export interface ViewFigures {
  beats: number;
  healthChecks: { passed: number; failed: number };
  checksRun: number;
  firstActionLatencyMs: LatencySummary;
  heartbeatLatenessMs: LatencySummary;
  /** Action durations by kind (seconds). */
  actionDurations: Record<string, DurationCounts>;
  rssBytes: number;
  heapUsedBytes: number;
  controlConnections: number;
}

export interface ViewSource {
  /** The `status --json` object (every entity), assembled page by page across turns. */
  status(): Promise<StatusView & { store: StoreUse }>;
  /** Up to `limit` events after `since` (a bounded read, as the `events` request). */
  events(since: number, limit: number): EventsPage;
  /** Each batch of events as it is committed; returns the way to stop. */
  onEvents(fn: (events: EventView[]) => void): () => void;
  detectors(): DetectorsView;
  figures(): ViewFigures;
}
