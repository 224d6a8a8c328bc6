// Serving as the HAM: the control socket, the entities, and a Guardian.
// Reached two ways: `ham start` (fresh) or a Guardian's takeover. The order
// matters for takeover latency: answer the socket first, then resume the
// entities (keepers kept them alive meanwhile), then spawn the new Guardian.
// The Guardian link and the detector host are handed in by the daemon
// (src/daemon/serve.ts) through the narrow interfaces below.
import { daemonTitle, isDaemonArgv, keeperCommand } from '../paths.js';
import { defaultBaseEnv } from '../environment.js';
import { HamError } from '../errors.js';
import type { HomePaths } from '../home.js';
import type { LatencyRing } from '../latency.js';
import type { Logger } from '../log.js';
import { cmdline, isAlive } from '../proc/procfs.js';
import { admission } from '../protocol/peercred.js';
import { ControlServer } from '../protocol/server.js';
import { markStopping, release } from '../store/roles.js';
import { resumeBeats } from './resume-beats.js';
import type { Occurrence } from '../model/conditions.js';
import type { DetectorsView } from '../protocol/views.js';
import type { Store } from '../store/store.js';
import type { Roles } from '../model/records.js';
import { GLOBAL } from '../model/records.js';
import { applyConfig } from './apply.js';
import { afterBurst } from './rest-gc.js';
import { restartCondition } from './conditions.js';
import { EventHub } from './events.js';
import { saveState, storeGuard } from './guard.js';
import { catchUp, eventsPage, pairView, statusPage } from './pages.js';
import { checkExecutable } from './executable.js';
import { Manager } from './manage.js';
import { actionView, conditionView, entityView } from './status.js';
import { Supervisor } from './supervisor.js';
import { viewPort } from './view-port.js';
import type { ViewSource } from '../protocol/view-source.js';
import { logTakeover } from './takeover-log.js';
import { clusterHooks, type ClusterLoader } from './cluster-part.js';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface HamContext {
  store: Store;
  paths: HomePaths;
  epoch: number;
  log: Logger;
  /** `ham start` rather than a takeover. */
  fresh: boolean;
  previous: Roles;
}

/** The Guardian link (guardian/partner.ts): started last, stopped by `ham stop` before the entities. */
export interface PartnerPart {
  start(): void;
  stop(): Promise<void>;
}

/** What the core offers the detector host: its only way into the HAM. */
export interface CorePort {
  /** A fenced write transaction (the HAM's). */
  write: <T>(fn: () => T) => T;
  /** Publish an occurrence (conditions fire on it); resolves with its event's seq. */
  occur: (o: Occurrence) => Promise<number>;
  entityPid: (name: string) => number | null;
}

/** What the core needs of the detector host (src/detector/host.ts). */
export interface DetectorsPart {
  start(): void;
  close(): void;
  view(): DetectorsView;
  readonly checksRun: number;
  readonly streamLatency: LatencyRing;
}

export interface HamParts {
  partner: PartnerPart;
  /** Built once the core is: handed the core's port and the entities' base environment. */
  detectors: (port: CorePort, baseEnv: Record<string, string>) => DetectorsPart;
  /** The HTTP listener (`ham start --http`), handed the core's read-only views once it serves; absent when off. */
  view?: (source: ViewSource) => void;
  /** The cluster runtime's loader (src/cluster): called only when the store or an apply has a cluster. */
  cluster?: ClusterLoader;
}

export async function becomeHam(ctx: HamContext, parts: HamParts): Promise<void> {
  const { store, paths, epoch, log } = ctx;
  log.role = 'ham';
  process.title = daemonTitle('ham', paths.root, epoch); // `ps` tells which of the pair is the HAM now
  logTakeover(store, epoch, log); // this one's, or a takeover whose HAM died before its line
  const fenced = (e: HamError): never => {
    log('error', 'fenced: another process holds the HAM role; exiting', { error: e.message });
    process.exit(3);
  };
  // A Guardian left over from an earlier pair (hung, or racing this start) is not ours.
  const stale = ctx.previous.guardian;
  if (stale && stale.pid !== process.pid && isAlive(stale) && isDaemonArgv(cmdline(stale.pid))) {
    process.kill(stale.pid, 'SIGKILL');
  }

  // Fixed at the first `ham start` of the home (see environment.ts), never this process's own.
  const baseEnv = store.settings().baseEnv ?? defaultBaseEnv({});
  const hub = new EventHub();
  const supervisor = new Supervisor({ store, epoch, paths, log, hub, baseEnv, onFenced: fenced });
  const manager = new Manager(supervisor);
  const partner = parts.partner;
  const detectors = parts.detectors(
    {
      write: (fn) => supervisor.write(fn),
      occur: (o) => supervisor.occur(o),
      entityPid: (name) => supervisor.get(name)?.pid ?? null,
    },
    baseEnv,
  );
  const guard = storeGuard(store);
  const plainApply = (config: unknown, dryRun: boolean) => applyConfig(supervisor, config, { dryRun, cwd: process.cwd(), baseEnv, home: paths.root });
  const keeperKind = keeperCommand().kind;
  const cluster = clusterHooks(parts.cluster, { store, supervisor, paths, epoch, log, applyPlain: plainApply, perlKeeper: keeperKind === 'perl' });
  let stopping = false;
  let loopDelay: IntervalHistogram | undefined;

  const server: ControlServer = new ControlServer(
    {
      ping: () => ({ pid: process.pid, epoch, ...pairView(store.roles()) }),
      stats: ({ reset, loop }) => {
        // Event-loop delay is sampled only on request (sampling costs wake-ups).
        if (loop === 'start') {
          loopDelay?.disable();
          loopDelay = monitorEventLoopDelay({ resolution: 1 });
          loopDelay.enable();
        }
        const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
        const out = {
          loopDelayMs: loopDelay && { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max), count: loopDelay.count },
          detectors: { checksRun: detectors.checksRun, streamLatencyMs: detectors.streamLatency.summary() },
          ...supervisor.figures(reset === true),
          entities: store.entityCount(),
          lastSeq: store.lastSeq(),
          rssBytes: process.memoryUsage().rss,
          control: server.figures(),
        };
        if (loop === 'stop') {
          loopDelay?.disable();
          loopDelay = undefined;
        }
        if (reset) {
          detectors.streamLatency.clear();
          loopDelay?.reset();
        }
        return out;
      },
      status: ({ name, after, limit }) => {
        if (name !== undefined && name !== GLOBAL) supervisor.mustGet(name);
        return statusPage(store, { name, after, limit }, (n) => supervisor.heartbeatView(n));
      },
      attach: async (a) => {
        refuseWhileStopping();
        guard.grow('attach');
        const cwd = a.cwd ?? process.cwd();
        if (a.argv) checkExecutable(a.name, a.argv[0]!, cwd, { ...baseEnv, ...a.env }.PATH);
        const kind = a.pid !== undefined ? 'pid' : a.argv ? 'spawned' : 'placeholder';
        const e = await supervisor.attach({
          name: a.name,
          kind,
          argv: a.argv ?? [],
          env: a.env,
          cwd,
          pid: a.pid,
          conditions: a.restart ? [restartCondition()] : [],
        });
        return entityView(e);
      },
      detach: async ({ name }) => {
        refuseWhileStopping();
        const placed = await cluster.detach(name); // a placed entity: removed from the cluster
        if (placed !== undefined) return { name, cluster: placed };
        supervisor.detach(name);
        return { name };
      },
      'condition-add': ({ entity, name, condition }) => (guard.grow('condition add', condition), conditionView(manager.conditionAdd(entity, name, condition))),
      'condition-rm': ({ entity, name }) => {
        manager.conditionRm(entity, name);
        return { entity, condition: name };
      },
      'action-add': ({ entity, condition, action, onFailOf }) => (
        guard.grow('action add', action),
        actionView(manager.actionAdd(entity, condition, action, onFailOf))
      ),
      'action-rm': ({ entity, condition, path }) => {
        manager.actionRm(entity, condition, path);
        return { entity, condition, action: path.join('/') };
      },
      enable: ({ entity, condition, path, enabled }) => {
        manager.enable(entity, condition, path, enabled);
        return { entity, condition, action: path?.join('/'), enabled };
      },
      raise: async ({ entity, type, class: cls, severity, key }) => {
        const raise = { type, ...(cls !== undefined ? { class: cls } : {}), ...(severity !== undefined ? { severity } : {}) };
        return { seq: await supervisor.occur({ entity, type: 'raise', raise, ...(key !== undefined ? { key } : {}) }) };
      },
      state: async ({ entity, state, key }) => {
        return { seq: await supervisor.occur({ entity, type: 'state', state: { from: null, to: state }, ...(key !== undefined ? { key } : {}) }) };
      },
      events: ({ since, limit, entity, condition }) => eventsPage(store, { since, limit, entity, condition }),
      subscribe: async ({ since, entity, condition }, conn, id) => {
        const filter = { entity, condition };
        const from = since ?? store.lastSeq();
        const oldest = store.eventsSince(0, 1)[0]?.seq ?? from + 1;
        // Backlog in chunks, then live (pages.ts): no event can slip in between.
        if (!(await catchUp(store, hub, { conn, id, filter }, from))) return { since: from };
        return { since: from, lastSeq: store.lastSeq(), gap: from + 1 < oldest };
      },
      'self-attach': ({ name, pid, heartbeatMs, missedLow, missedHigh, health }, conn) => {
        refuseWhileStopping();
        const heartbeat = heartbeatMs === undefined ? null : { periodMs: heartbeatMs, missedLow, missedHigh: missedHigh ?? missedLow * 2 };
        const e = supervisor.attachSelf(conn, { name, pid, heartbeat, health: health ?? null });
        return { ...entityView(e, supervisor.heartbeatView(e.name)), saved: store.savedValue(e.name) };
      },
      'self-detach': ({ name }, conn) => {
        supervisor.detachSelf(conn, name);
        return { name };
      },
      'health-reply': ({ name, call, healthy, message }, conn) => {
        supervisor.healthReply(conn, name, call, healthy, message);
        return null;
      },
      beat: ({ name }, conn) => {
        if (!supervisor.beat(conn, name))
          throw new HamError({
            code: 'bad-request',
            entity: name,
            message: `beat: ${JSON.stringify(name)} is not attached with heartbeats by this connection`,
          });
        return null;
      },
      store: ({ name, value }) => {
        saveState(store, guard, (fn) => supervisor.write(fn), name, value);
        return { name };
      },
      restore: ({ name }) => ({ name, instance: supervisor.mustGet(name).instance, value: store.savedValue(name) }),
      detectors: () => detectors.view(),
      'cluster-status': () => cluster.status(),
      'cluster-relocate': ({ name, to }) => cluster.relocate(name, to),
      reset: async ({ name }) => {
        refuseWhileStopping();
        const placed = await cluster.reset(name); // a placed entity this node gave up on: its mark cleared
        return placed !== undefined ? { name, cluster: placed } : entityView(supervisor.reset(name));
      },
      control: async ({ request, name, group, wait }) => {
        refuseWhileStopping();
        const placed = name !== undefined ? await cluster.control(request, name, wait) : undefined; // cluster-wide stop/start
        if (placed !== undefined) return { request, entities: [], skipped: [], cluster: placed };
        const view = (d: { entity: Parameters<typeof entityView>[0]; changed: boolean }) => ({ ...entityView(d.entity), changed: d.changed });
        if (group !== undefined) {
          const r = await supervisor.byName.restartGroup(group, wait);
          return { request, group, entities: r.done.map(view), skipped: r.skipped };
        }
        const d = await supervisor.byName[request](name!, wait);
        return { request, entities: [view(d)], skipped: [] };
      },
      apply: ({ config, dryRun }) => (
        dryRun || guard.grow('apply', config),
        (cluster.wants(config) ? cluster.apply(config, dryRun) : plainApply(config, dryRun)).finally(() => afterBurst(log))
      ),
      stop: async ({ all }) => {
        refuseWhileStopping();
        stopping = true;
        try {
          markStopping(store, epoch, all ? 'ham stop --all' : 'ham stop');
        } catch (e) {
          if (e instanceof HamError && e.code === 'fenced') fenced(e);
          throw e;
        }
        log('info', 'stopping', { all });
        await partner.stop();
        if (all) await supervisor.stopAll();
        // Reply first, then leave.
        setTimeout(() => {
          detectors.close();
          cluster.close();
          supervisor.close();
          server.close();
          release(store, epoch);
          store.close();
          log('info', 'stopped');
          process.exit(0);
        }, 50);
        return { pid: process.pid, stoppedEntities: all };
      },
    },
    {
      onBeat: (conn, name) => void supervisor.beat(conn, name),
      admit: admission({
        allowUsers: () => store.settings().allowUsers,
        socket: paths.socket,
        home: paths.root,
        warn: (msg, fields) => log('warn', msg, fields),
      }),
      onTrouble: (what, e) => log('error', `control socket: ${what} failed`, { error: (e as Error)?.message, stack: (e as Error)?.stack }),
    },
  );
  const refuseWhileStopping = (): void => {
    if (stopping) throw new HamError({ code: 'stopping', message: 'the HAM is stopping' });
  };

  await server.listen(paths.socket);
  const beats = resumeBeats(store, epoch, fenced);
  supervisor.resume(ctx.fresh, beats.tick);
  detectors.start();
  cluster.resume();
  partner.start();
  parts.view?.(viewPort({ store, supervisor, hub, detectors, connections: () => server.figures().connections }));
  log('info', 'serving as HAM', { epoch, fresh: ctx.fresh, entities: store.entityCount() });
  setImmediate(beats.done); // once this turn is over: from then on the loop answers probes itself
  afterBurst(log); // the start's or takeover's garbage (reconciling every entity), once it is over
  const keeper = keeperCommand();
  if (keeper.kind === 'perl')
    log('warn', 'keepers: the Perl fallback (no C keeper was built at install, or HAM_KEEPER=perl)', { keeper: keeper.argv.join(' ') });
}
