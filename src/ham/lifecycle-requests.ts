// The lifecycle table's rows for an operator's requests by name: `ham stop
// NAME` (it stays stopped until `ham start NAME`: not a death, no restart),
// `ham restart NAME` (stopped by its stop policy, then started again: a
// requested restart, not a death) and `ham start NAME`. Each request that
// changes something is said in the event log (`requested`). Pure, as the
// table is.
import type { EventOf, EventTag, LifeContext, LifeOccurrence, Step } from './lifecycle-events.js';
import type { LifeOf, LifeTag } from '../model/life.js';
import { launch, release, step } from './lifecycle-steps.js';

type Handler<S extends LifeTag, E extends EventTag> = (life: LifeOf<S>, ev: EventOf<E>, ctx: LifeContext) => Step | 'ignore';
type Row<S extends LifeTag> = { 'ask-stop': Handler<S, 'ask-stop'> | 'ignore'; 'ask-start': Handler<S, 'ask-start'> | 'ignore' };

const said = (request: 'stop' | 'start' | 'restart'): LifeOccurrence[] => [{ type: 'requested', request }];
const asked = (ev: EventOf<'ask-stop'>): 'stop' | 'restart' => (ev.restart ? 'restart' : 'stop');
/** Stopped by name where nothing runs: kept stopped, a keeper parked on a death let go. */
const keptStop = (parked: number | null): Step => step({ tag: 'stopped', parked, kept: true }, [{ kind: 'cancel-restart' }, ...release(parked)], said('stop'));
/** Started (or restarted) by name where nothing runs; not a restart by policy: no restart counted, no restart condition. */
const startNow = (request: 'start' | 'restart', parked: number | null, keeperParked: boolean, ctx: LifeContext): Step | 'ignore' =>
  ctx.hasCommand ? launch(false, parked, keeperParked, [{ kind: 'cancel-restart' }], said(request)) : 'ignore';

export const ASK: { [S in LifeTag]: Row<S> } = {
  idle: {
    'ask-stop': (_l, ev, ctx) => (!ctx.hasCommand ? 'ignore' : ev.restart ? startNow('restart', null, false, ctx) : keptStop(null)),
    'ask-start': (_l, _ev, ctx) => startNow('start', null, false, ctx),
  },
  starting: {
    // Its start under way is stopped as a stop stops it; a restart starts it again once it exited.
    'ask-stop': (l, ev) =>
      step(
        { tag: 'stopping', started: false, restart: l.restart, via: l.via, then: 'stopped', request: asked(ev) },
        [{ kind: 'cancel-restart' }, { kind: 'signal', signal: 'stop' }],
        said(asked(ev)),
      ),
    'ask-start': 'ignore',
  },
  running: {
    'ask-stop': (_l, ev) =>
      step(
        { tag: 'stopping', started: true, restart: false, via: null, then: 'stopped', request: asked(ev) },
        [{ kind: 'cancel-restart' }, { kind: 'signal', signal: 'stop' }],
        said(asked(ev)),
      ),
    'ask-start': 'ignore',
  },
  dead: {
    'ask-stop': (l, ev, ctx) => (ev.restart ? startNow('restart', l.parked, ev.keeperParked, ctx) : keptStop(l.parked)),
    'ask-start': (l, ev, ctx) => startNow('start', l.parked, ev.keeperParked, ctx),
  },
  stopping: {
    // Asked by name during another stop (a hold's, `stop --all`'s): this request decides where it ends; but a
    // restart does not override a hold (it would start with its requirement down): held, it comes back by itself.
    'ask-stop': (l, ev) =>
      l.request === asked(ev) || (ev.restart && l.then !== 'stopped')
        ? 'ignore'
        : step({ ...l, then: 'stopped', request: asked(ev) }, [{ kind: 'signal', signal: 'stop' }], said(asked(ev))),
    // Being stopped by name: started again once it exited.
    'ask-start': (l) => (l.request === 'stop' ? step({ ...l, request: 'restart' }, [], said('start')) : 'ignore'),
  },
  stopped: {
    'ask-stop': (l, ev, ctx) => (ev.restart ? startNow('restart', null, false, ctx) : l.kept ? 'ignore' : step({ ...l, kept: true }, [], said('stop'))),
    'ask-start': (_l, _ev, ctx) => startNow('start', null, false, ctx),
  },
  held: {
    // Held comes back by itself; a stop by name keeps it stopped instead.
    'ask-stop': (l, ev) => (ev.restart ? 'ignore' : keptStop(l.parked)),
    'ask-start': 'ignore',
  },
  failed: {
    // Failed stays failed until `ham reset`; stopped by name, `ham start` brings it back.
    'ask-stop': (l, ev) => (ev.restart ? 'ignore' : keptStop(l.parked)),
    'ask-start': 'ignore',
  },
};
