/// <reference lib="dom" />
// The live view in a real browser (Debian's chromium, driven by puppeteer-core):
// it shows the entities; a killed entity gets a death and a restart on its row;
// a killed HAM gets a takeover mark and the page keeps updating through the
// Guardian that took over. It writes a screenshot (HAM_VIEW_SCREENSHOT: where).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { hamJson, status, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';
import { freePort, listening } from '../helpers/http.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);

let t: TestHome;
let browser: Browser | undefined;
beforeEach(() => {
  t = tempHome();
});
afterEach(async (ctx) => {
  const pid = browser?.process()?.pid;
  await browser?.close().catch(() => undefined);
  if (pid !== undefined)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* closed */
    }
  browser = undefined;
  t.cleanup(ctx);
});

const talker = (marker: string, text: string): string[] => ['perl', '-e', `$| = 1; print "${text}\\n"; sleep 100000`, marker];

/** Marks of `kind` on `name`'s row. */
const marks = (page: Page, name: string, kind: string): Promise<number> =>
  page.evaluate((n, k) => document.querySelectorAll(`.row[data-entity="${n}"] .mark[data-kind="${k}"]`).length, name, kind);

/** Wait (generously: a loaded machine) until the page shows `n` marks of `kind` on `name`'s row. */
const waitMarks = (page: Page, name: string, kind: string, n: number): Promise<unknown> =>
  page.waitForFunction(
    (nm, k, c) => document.querySelectorAll(`.row[data-entity="${nm}"] .mark[data-kind="${k}"]`).length >= c,
    { timeout: 30_000, polling: 50 },
    name,
    kind,
    n,
  );

/** How long after its event (by the event's time) the page had it: measured, reported, not asserted (load). */
const seenAfterMs = (page: Page, seq: number): Promise<number> =>
  page.evaluate((s) => {
    const e = (window as unknown as { hamView: { events: { seq: number; time: string; receivedAt: number }[] } }).hamView.events.find((x) => x.seq === s)!;
    return e.receivedAt - Date.parse(e.time);
  }, seq);

describe('the live view, in chromium', () => {
  it.skipIf(!CHROMIUM)('shows the entities, a death and restart on the row, and a takeover mark; it keeps updating after the takeover', async () => {
    const port = await freePort();
    await hamJson(t.home, ['start', '--hang-ms', '3000', '--http', `127.0.0.1:${port}`]);
    await hamJson(t.home, ['attach', 'web', '--restart', '--', ...talker(`${t.home}/web`, 'hello from web')]);
    await hamJson(t.home, ['attach', 'db', '--restart', '--', ...talker(`${t.home}/db`, 'hello from db')]);
    const s0 = await waitStatus(t.home, 'both running', (s) => s.entities.every((e) => e.state === 'running'));

    await listening(port);
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 700 });
    const offsite: string[] = [];
    page.on('request', (r) => void (new URL(r.url()).host !== `127.0.0.1:${port}` && offsite.push(r.url())));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('.row[data-entity="web"]', { timeout: 30_000 });
    await page.waitForSelector('.row[data-entity="db"]', { timeout: 30_000 });
    await waitMarks(page, 'web', 'attach', 1);
    await page.waitForFunction(() => document.querySelector('#conn')?.textContent === 'live', { timeout: 30_000 });

    // An entity killed: a death and a restart on its row.
    process.kill(entity(s0, 'web').pid!, 'SIGKILL');
    const s1 = await waitStatus(t.home, 'web restarted', (s) => entity(s, 'web').restarts === 1 && entity(s, 'web').state === 'running');
    await waitMarks(page, 'web', 'death', 1);
    await waitMarks(page, 'web', 'restart', 1);
    expect(await marks(page, 'db', 'death')).toBe(0);
    const deathSeq = (await page.evaluate(() => document.querySelector('.row[data-entity="web"] .mark[data-kind="death"]')!.getAttribute('data-seq')))!;
    process.stdout.write(`live view: the death was on the page ${await seenAfterMs(page, Number(deathSeq))} ms after its event\n`);

    // The HAM killed: a takeover mark across the rows, the pair's epoch moves on, and the page keeps updating.
    process.kill(s1.ham.pid!, 'SIGKILL');
    const s2 = await waitStatus(t.home, 'the Guardian serving as HAM', (s) => s.ham.pid === s1.guardian.pid && s.guardian.pid !== null);
    await page.waitForSelector('#timeline .tk', { timeout: 30_000 });
    await page.waitForFunction((e) => document.querySelector('#epoch')?.textContent === `epoch ${e}`, { timeout: 30_000 }, s2.ham.epoch);
    process.kill(entity(s2, 'db').pid!, 'SIGKILL');
    await waitStatus(t.home, 'db restarted by the new HAM', (s) => entity(s, 'db').restarts === 1 && entity(s, 'db').state === 'running');
    await waitMarks(page, 'db', 'death', 1);
    await waitMarks(page, 'db', 'restart', 1);

    // An entity's detail: its conditions and actions with counters, and its output.
    // Clicked in the page in one go: the rows are rebuilt every second, so a handle found first could go stale.
    await page.evaluate(() => (document.querySelector('.row[data-entity="db"] .name') as HTMLElement).click());
    await page.waitForFunction(
      () => {
        const text = document.querySelector('#detail')?.textContent ?? '';
        return (
          /hello from db/.test(text) &&
          /restart \(death\): fired 1, failed 0/.test(text) &&
          /restarts \/ deaths1 \/ 1/.test(text) &&
          /restart \(restart\): runs 1/.test(text)
        );
      },
      { timeout: 30_000, polling: 100 },
    );
    expect(await page.evaluate(() => document.querySelectorAll('#events tr').length)).toBe((await status(t.home)).lastSeq);
    expect(offsite).toEqual([]); // nothing fetched from elsewhere

    const shot = process.env.HAM_VIEW_SCREENSHOT ?? join(t.home, 'live-view.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(1000);
  });
});
