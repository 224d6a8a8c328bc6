// Human-readable status.
import type { ActionView, ConditionView, EntityView, EventView, StatusView } from '../protocol/views.js';
import type { Failure } from '../model/failures.js';
import { probeRunAsText, runAsText } from '../model/runas.js';
import { escapeField as f } from './escape.js';
import { usageCells, type Usage } from './usage.js';
import { commandText } from './command-text.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function exitText(e: EntityView): string {
  if (!e.lastExit) return e.lastError ? 'exec failed' : '-';
  if (e.lastExit.signal) return e.lastExit.signal;
  return e.lastExit.code === null ? 'unknown' : `code ${e.lastExit.code}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A warning line when the HAM may run out of descriptors (one per keeper's life FIFO), else nothing. */
export function formatOpenFiles(of: { limit: number; needed: number } | undefined): string {
  if (!of || of.limit >= of.needed) return '';
  return `\nwarning: open files limited to ${of.limit}, the entities need about ${of.needed} (one per keeper): raise the HAM's hard limit (ulimit -Hn, LimitNOFILE=)`;
}

export function formatPair(s: Pick<StatusView, 'ham' | 'guardian'>): string {
  const fallback = s.ham.keeper === 'perl' ? '   keepers: Perl (no C compiler at install)' : '';
  return `HAM pid ${s.ham.pid ?? '-'} (epoch ${s.ham.epoch}, ${plural(s.ham.failures, 'failure')})   Guardian pid ${s.guardian.pid ?? '-'} (${plural(s.guardian.failures, 'failure')})${fallback}`;
}

export function formatStatus(s: StatusView & { entities: (EntityView & Partial<Usage>)[] }): string {
  const head = formatPair(s);
  if (s.entities.length === 0) return `${head}\nno entities attached`;
  const rows = [['NAME', 'KIND', 'STATE', 'PID', 'UPTIME', 'CPU', 'RSS', 'RESTARTS', 'DEATHS', 'LAST EXIT', 'COMMAND']];
  for (const e of s.entities)
    rows.push([e.name, e.kind, e.state, String(e.pid ?? '-'), ...usageCells(e), String(e.restarts), String(e.deaths), exitText(e), f(commandText(e))]);
  return `${head}\n\n${table(rows)}`;
}

export function formatEntity(e: EntityView & Partial<Usage>): string {
  const lines: [string, string][] = [
    ['name', e.name],
    ['kind', e.kind],
    ['state', `${e.state}${e.stoppedByName ? ` (by \`ham stop ${e.name}\`; \`ham start ${e.name}\` starts it)` : ''}${e.enabled ? '' : ' (disabled)'}`],
    ['pid', String(e.pid ?? '-')],
    ['command', f(commandText(e)) || '-'],
    ['cwd', f(e.cwd)],
    ['instance', String(e.instance)],
    ['restarts', String(e.restarts)],
    ['deaths', String(e.deaths)],
    ['last exit', exitText(e)],
    ['keeper pid', String(e.keeperPid ?? '-')],
    ['started at', e.startedAt ?? '-'],
    ['uptime, cpu, rss', usageCells(e).join(', ')],
  ];
  if (e.health) {
    const h = e.health;
    lines.push([
      'health check',
      `every ${h.intervalMs} ms, timeout ${h.timeoutMs} ms, then ${h.signal} and SIGKILL after ${h.graceMs} ms; ${h.failures} failed${h.failing ? `; FAILING since ${h.failing.since}: ${f(h.failing.reason)}` : ''}`,
    ]);
  }
  if (e.heartbeat) {
    const h = e.heartbeat;
    lines.push([
      'heartbeat',
      `every ${h.periodMs} ms, marks ${h.missedLow}/${h.missedHigh}, ${h.state}, ${h.missed} missed, last beat ${h.lastBeatMsAgo === null ? '-' : `${h.lastBeatMsAgo} ms ago`}`,
    ]);
  }
  if (e.readiness) lines.push(['readiness', readinessText(e)]);
  if (e.runAs) lines.push(['running as', f(runAsText(e.runAs))]);
  if (e.cgroup) lines.push(['cgroup', f(e.cgroup)]);
  if (e.userState) lines.push(['reported state', f(e.userState)]);
  if (e.restartAt) lines.push(['next restart at', e.restartAt]);
  if (e.restart) {
    const b = e.restart.backoff;
    const i = e.restart.intensity;
    lines.push([
      'restart policy',
      `backoff ${b.initialMs} ms ×${b.factor} up to ${b.maxMs} ms (reset after ${b.resetAfterMs} ms up); ${i ? `at most ${i.max} restarts within ${i.withinMs} ms (${e.restart.inWindow} so far)` : 'no intensity limit'}`,
    ]);
  }
  if (e.outputProblem) lines.push(['output', `not kept: ${f(e.outputProblem)}`]);
  if (e.lastError) lines.push(['last error', f(e.lastError)]);
  if (e.lastFailure) lines.push(['last failure', failureText(e.lastFailure)]);
  return `${table(lines.map(([k, v]) => [`${k}:`, v]))}\n\n${formatConditions(e.conditions)}`;
}

/** Its probe, its deadline, and where it stands (what answered, once ready). */
function readinessText(e: EntityView): string {
  const r = e.readiness!;
  const p = r.probe;
  const probe =
    p.kind === 'tcp'
      ? `tcp ${p.host}:${p.port}`
      : p.kind === 'http'
        ? `http ${f(p.url)}`
        : p.kind === 'command'
          ? `command ${f(p.argv.join(' '))}${probeRunAsText(e.runAs)}`
          : p.kind === 'fd'
            ? `fd ${p.fd} (a newline)`
            : `notify (sd_notify)${p.watchdogMs ? `, watchdog every ${p.watchdogMs} ms` : ''}`;
  const now = e.ready ? `ready${e.readyText ? `: ${f(e.readyText)}` : ''}` : e.state === 'starting' && e.pid !== null ? 'not ready yet' : 'not ready';
  const every = p.kind === 'notify' || p.kind === 'fd' ? '' : `, every ${r.intervalMs} ms`;
  const k = e.keeperReady;
  const said = k
    ? [
        k.reloading ? 'reloading' : '',
        k.stopping ? 'stopping' : '',
        !e.ready && k.status ? `status ${f(k.status)}` : '',
        k.extendedTo ? `deadline extended to ${new Date(k.extendedTo).toISOString()}` : '',
        k.ignored ? `${k.ignored} datagrams ignored` : '',
      ].filter(Boolean)
    : [];
  return `${probe}, within ${r.timeoutMs} ms${every}; ${now}${said.length ? `; ${said.join(', ')}` : ''}`;
}

function matchText(c: ConditionView): string {
  const parts: string[] = [];
  if (c.match)
    parts.push(
      Object.entries(c.match)
        .map(([k, v]) => `${k}=${f(v)}`)
        .join(' '),
    );
  const set = (name: string, s: ConditionView['from']): void => {
    if (s?.in) parts.push(`${name} ${f(s.in.join('|'))}`);
    if (s?.notIn) parts.push(`${name} not ${f(s.notIn.join('|'))}`);
  };
  set('from', c.from);
  set('to', c.to);
  return parts.length ? ` [${parts.join(', ')}]` : '';
}

/** A failure as one line: how it ended, how long it took, the end of its stderr. */
export function failureText(x: Failure): string {
  const parts: string[] = [];
  if (x.argv) parts.push(`argv ${f(x.argv.map((a) => JSON.stringify(a)).join(' '))}`);
  if (x.startError) parts.push(`not started: ${f(x.startError)}`);
  else if (x.signal) parts.push(`signal ${x.signal}`);
  else if (x.exitCode !== undefined && x.exitCode !== null) parts.push(`exit code ${x.exitCode}`);
  if (x.timedOut) parts.push('timed out');
  if (x.durationMs !== undefined) parts.push(`after ${x.durationMs} ms`);
  const tail = x.stderrTail?.trimEnd();
  if (tail) parts.push(`stderr …${f(tail.slice(-300))}`);
  return parts.join(', ');
}

function actionLines(list: ActionView[], indent: string): string[] {
  const out: string[] = [];
  for (const a of list) {
    const params = Object.entries(a.params).map(([k, v]) => `${k}=${f(Array.isArray(v) ? v.join(' ') : typeof v === 'object' ? JSON.stringify(v) : v)}`);
    const flags = [...a.flags, ...(a.enabled ? [] : ['disabled'])];
    const last = a.lastRunAt ? `, last ${a.lastResult} ${a.lastRunAt.slice(11, 23)}${a.lastError ? `: ${f(a.lastError)}` : ''}` : '';
    out.push(
      `${indent}${a.name} (${a.kind}${params.length ? ` ${params.join(' ')}` : ''})${flags.length ? ` {${flags.join(', ')}}` : ''} — ran ${a.runs}, failed ${a.failures}${last}`,
    );
    if (a.lastResult === 'failed' && a.lastFailure) out.push(`${indent}  failure: ${failureText(a.lastFailure)}`);
    if (a.onFail.length) {
      out.push(`${indent}  on fail:`);
      out.push(...actionLines(a.onFail, `${indent}    `));
    }
  }
  return out;
}

export function formatConditions(conditions: ConditionView[]): string {
  if (conditions.length === 0) return 'no conditions';
  const lines = ['conditions:'];
  for (const c of conditions) {
    const flags = [c.rearm ? 'rearm' : '', c.independent ? 'independent' : '', c.enabled ? '' : 'disabled'].filter(Boolean);
    lines.push(
      `  ${c.name}: ${c.type}${matchText(c)}${flags.length ? ` {${flags.join(', ')}}` : ''} — fired ${c.fired}, failed ${c.failed}${c.lastFiredAt ? `, last ${c.lastFiredAt.slice(11, 23)}` : ''}`,
    );
    lines.push(...actionLines(c.actions, '    '));
  }
  return lines.join('\n');
}

export function formatEvent(e: EventView): string {
  const t = e.time.slice(11, 23);
  const what: string[] = [];
  const exit = e.exit;
  if (exit) what.push(exit.signal ?? (exit.code === null ? 'status unknown' : `exit code ${exit.code}`));
  if (e.raise)
    what.push(
      Object.entries(e.raise)
        .map(([k, v]) => `${k}=${f(v)}`)
        .join(' '),
    );
  const st = e.state;
  if (st) what.push(`${f(st.from ?? '(none)')} → ${f(st.to)}`);
  const c = e.cluster;
  if (c) what.push([c.event, c.entity && f(c.entity), c.node && `node ${f(c.node)}`, c.token && `token ${c.token}`].filter(Boolean).join(' '));
  if (e.pid) what.push(`pid ${String(e.pid)}`);
  if (e.notifies) what.push(`notifies #${String(e.notifies)}`);
  if (e.detail) what.push(f(e.detail));
  const fired = e.fired;
  const to = fired.length ? `  → ${fired.map((f) => `${f.owner}/${f.condition}`).join(', ')}` : '';
  return `#${e.seq} ${t} ${e.entity} ${e.condition}${what.length ? ` (${what.join(', ')})` : ''}${to}`;
}
