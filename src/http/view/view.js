// The live view: the pair, a timeline per entity, the latest events and an
// entity's detail. Everything comes from the HAM's API on the same origin: the
// event stream (resumed from the last seq it saw, across takeovers) and the
// status, fetched again after events. A token, if any, is in the page's
// #token=... (never sent as part of a URL).
'use strict';
(() => {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const MAX_EVENTS = 5000; // kept for the timeline; older ones drop off
  const LIST = 60; // shown in "latest events"
  const WINDOW_MS = 10 * 60 * 1000; // the timeline shows at most the last ten minutes
  const KINDS = new Set(['attach', 'restart', 'death', 'abnormal-death', 'ready', 'escalate']);
  const state = { events: [], lastId: 0, status: null, selected: null, connected: false, streams: 0 };
  window.hamView = state; // for tests and the curious: what the page has seen

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      // Positions through the CSSOM: the page's CSP (default-src 'self') refuses style attributes.
      if (k === 'left') e.style.left = v;
      else e.setAttribute(k, String(v));
    }
    for (const k of kids) e.append(k);
    return e;
  };
  const fmtTime = (iso) => new Date(iso).toLocaleTimeString();
  const exitText = (x) => (x ? (x.signal ? x.signal : `code ${x.code}`) : '');
  const describe = (e) =>
    [e.exit ? exitText(e.exit) : '', e.pid ? `pid ${e.pid}` : '', e.detail || '', e.raise ? e.raise.type : '', e.state ? `→ ${e.state.to}` : '']
      .filter(Boolean)
      .join(' ');

  async function getJson(path) {
    const r = await fetch(path, { headers: auth, cache: 'no-store' });
    if (!r.ok) throw new Error(`${path}: ${r.status}`);
    return r.json();
  }

  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      try {
        state.status = await getJson('/api/status');
        render();
      } catch {
        /* the HAM is changing hands: the stream's reconnect asks again */
      }
    }, 100);
  }

  function onEvent(e) {
    if (e.seq <= state.lastId) return; // a repeat after a reconnect: the stream resumes after lastId
    state.lastId = e.seq;
    e.receivedAt = Date.now();
    state.events.push(e);
    if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
    refreshSoon();
  }

  // The event stream, read with fetch (an EventSource cannot send the token): resumed by Last-Event-ID.
  async function stream() {
    for (;;) {
      try {
        const headers = { ...auth, Accept: 'text/event-stream' };
        if (state.lastId > 0) headers['Last-Event-ID'] = String(state.lastId);
        const r = await fetch(state.lastId > 0 ? '/api/events' : '/api/events?since=0', { headers, cache: 'no-store' });
        if (r.status !== 200) throw new Error(String(r.status));
        setConnected(true);
        state.streams++;
        refreshSoon();
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          let batch = false;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let data = '';
            let kind = 'message';
            for (const line of block.split('\n')) {
              if (line.startsWith('data: ')) data += line.slice(6);
              else if (line.startsWith('event: ')) kind = line.slice(7);
            }
            if (data && kind === 'message') {
              onEvent(JSON.parse(data));
              batch = true;
            }
          }
          if (batch) render();
        }
      } catch {
        /* refused or cut: try again */
      }
      setConnected(false);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  function setConnected(up) {
    state.connected = up;
    const c = $('#conn');
    c.className = up ? 'up' : 'down';
    c.textContent = up ? 'live' : 'reconnecting…';
  }

  function renderPair() {
    const s = state.status;
    if (!s) return;
    const p = $('#pair');
    p.replaceChildren(
      el('span', { id: 'ham-pid' }, `HAM pid ${s.ham.pid ?? '—'}`),
      ' · ',
      el('span', { id: 'epoch' }, `epoch ${s.ham.epoch}`),
      ' · ',
      el('span', { id: 'takeovers' }, `takeovers ${s.ham.failures}`),
      ' · ',
      el('span', { id: 'guardian-pid' }, `Guardian pid ${s.guardian.pid ?? '—'}`),
      ' · ',
      `events ${s.lastSeq}`,
    );
  }

  function renderTimeline() {
    const now = Date.now();
    const first = state.events.length ? Date.parse(state.events[0].time) : now;
    const t0 = Math.max(now - WINDOW_MS, Math.min(first - 1000, now - 30_000));
    const span = Math.max(1, now - t0) * 1.03; // a margin on the right: the newest marks are not cut
    const x = (iso) => `${(((Date.parse(iso) - t0) / span) * 100).toFixed(2)}%`;
    $('#window').textContent = `(last ${Math.round(span / 1000)} s)`;
    const names = new Set((state.status?.entities ?? []).map((e) => e.name));
    for (const e of state.events) if (e.entity !== '*') names.add(e.entity);
    const byName = new Map((state.status?.entities ?? []).map((e) => [e.name, e]));
    const rows = [...names].sort().map((name) => {
      const v = byName.get(name);
      const track = el('div', { class: 'track' });
      for (const e of state.events) {
        if (Date.parse(e.time) < t0) continue;
        // A takeover is on every row: together they make one line across the timeline.
        if (e.condition === 'takeover')
          track.append(el('span', { class: 'tk', 'data-seq': e.seq, title: `#${e.seq} takeover ${fmtTime(e.time)} ${e.detail || ''}`, left: x(e.time) }));
        if (e.entity !== name) continue;
        const kind = KINDS.has(e.condition) ? e.condition : 'other';
        track.append(
          el('span', {
            class: `mark ${kind}`,
            'data-kind': e.condition,
            'data-seq': e.seq,
            title: `#${e.seq} ${e.condition} ${fmtTime(e.time)} ${describe(e)}`,
            left: x(e.time),
          }),
        );
      }
      const label = el('div', { class: 'name', title: name }, name);
      const st = v ? (v.held ? 'held' : v.state) : 'gone';
      return el('div', { class: 'row', 'data-entity': name }, label, el('div', { class: `state ${st}` }, st), track);
    });
    $('#timeline').replaceChildren(...rows);
  }

  function renderEvents() {
    const rows = state.events
      .slice(-LIST)
      .reverse()
      .map((e) =>
        el(
          'tr',
          { 'data-seq': e.seq },
          el('td', {}, `#${e.seq}`),
          el('td', {}, fmtTime(e.time)),
          el('td', {}, e.entity),
          el('td', {}, e.condition),
          el('td', {}, describe(e)),
        ),
      );
    $('#events tbody').replaceChildren(...rows);
  }

  function actionItems(list) {
    return list.map((a) =>
      el(
        'li',
        {},
        `${a.name} (${a.kind}${a.enabled ? '' : ', disabled'}): runs ${a.runs}, failures ${a.failures}${a.lastError ? `, last error: ${a.lastError}` : ''}`,
        ...(a.onFail.length ? [el('ul', {}, ...actionItems(a.onFail))] : []),
      ),
    );
  }

  async function renderDetail() {
    const box = $('#detail');
    const name = state.selected;
    const v = name && state.status?.entities.find((e) => e.name === name);
    if (!v) return;
    const r = v.restart;
    const dl = el('dl', {});
    const add = (k, val) => dl.append(el('dt', {}, k), el('dd', {}, String(val)));
    add('state', v.held ? `${v.state} (held: ${v.held.reason ?? JSON.stringify(v.held)})` : v.state);
    add('pid', v.pid ?? '—');
    add('ready', v.ready ? `yes${v.readyText ? ` (${v.readyText})` : ''}` : 'no');
    add('restarts / deaths', `${v.restarts} / ${v.deaths}`);
    add('last exit', v.lastExit ? exitText(v.lastExit) : '—');
    add('started', v.startedAt ? fmtTime(v.startedAt) : '—');
    add('backoff', `${r.backoff.initialMs} ms ×${r.backoff.factor} up to ${r.backoff.maxMs} ms (next ${r.nextDelayMs} ms)`);
    add('intensity', r.intensity ? `${r.inWindow} of ${r.intensity.max} restarts within ${r.intensity.withinMs} ms` : `none (${r.inWindow} in the window)`);
    add('command', v.argv.join(' '));
    const conds = v.conditions.map((c) =>
      el('li', {}, `${c.name} (${c.type}${c.enabled ? '' : ', disabled'}): fired ${c.fired}, failed ${c.failed}`, el('ul', {}, ...actionItems(c.actions))),
    );
    const out = el('pre', { id: 'output' }, '…');
    box.replaceChildren(
      el('h2', {}, `Entity: ${name}`),
      dl,
      el('h3', {}, 'Conditions and actions'),
      el('ul', {}, ...conds),
      el('h3', {}, 'Output (last lines)'),
      out,
    );
    try {
      const r2 = await fetch(`/api/logs/${encodeURIComponent(name)}?lines=30`, { headers: auth, cache: 'no-store' });
      out.textContent = r2.ok ? (await r2.text()) || '(nothing yet)' : `(not available: ${r2.status})`;
    } catch {
      out.textContent = '(not available)';
    }
  }

  let lastDetail = 0;
  let detailTimer = null;
  function render() {
    renderPair();
    renderTimeline();
    renderEvents();
    // The detail reads the output too: at most once a second, the last change never left out.
    if (!state.selected || detailTimer) return;
    detailTimer = setTimeout(
      () => {
        detailTimer = null;
        lastDetail = Date.now();
        void renderDetail();
      },
      Math.max(0, lastDetail + 1000 - Date.now()),
    );
  }

  // Counters can change with no event (an action's result is written after the event that fired it).
  setInterval(() => state.connected && refreshSoon(), 2000);
  // One listener on the box (rows are rebuilt at every render): a click on a name selects it.
  $('#timeline').addEventListener('click', (ev) => {
    const row = ev.target.closest('.name') && ev.target.closest('.row');
    if (!row) return;
    state.selected = row.getAttribute('data-entity');
    void renderDetail();
  });
  setInterval(renderTimeline, 1000); // the timeline slides with time
  void stream();
})();
