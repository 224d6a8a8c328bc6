// The operator's figures for `npm run bench`: start-up (CLI and pair, next to
// `node -e 0`; `ham start` then `apply` of 100, next to a shell loop starting
// them), output through the keeper (next to `cat` and the entity to a file,
// `ham logs -f` next to `tail -F`), readiness (next to its probe interval) and a
// takeover while hundreds start.
import { fmt, median, quantile } from './lib.js';
import { benchHttp } from './http.js';
import { benchLogs, formatLogsBench } from './logs.js';
import { benchReadiness } from './readiness.js';
import { benchStart, startTable } from './start.js';
import { benchStartApply, startApplyTable } from './start-apply.js';
import { benchTakeoverStarting } from './takeover-starting.js';

export async function benchOperator(quick: boolean): Promise<string> {
  process.stdout.write('start-up...\n');
  const start = await benchStart(quick ? 3 : 10);
  const startApply = await benchStartApply(quick ? 3 : 7, 100);
  process.stdout.write('output through the keeper...\n');
  const logs = await benchLogs({ quick });
  process.stdout.write('readiness...\n');
  const ready = await benchReadiness(quick ? 5 : 15, quick ? 20 : 50);
  process.stdout.write('takeover while starting...\n');
  const n = quick ? 100 : 300;
  const ts = await benchTakeoverStarting(n, quick ? 1 : 3);
  process.stdout.write('http...\n');
  const http = await benchHttp(100, quick ? 20 : 100);
  const row = (what: string, xs: number[], limit: string): string => `| ${what} | ${fmt(median(xs))} ms | ${fmt(quantile(xs, 0.9))} ms | ${limit} |`;
  return `## Start, output, readiness

### Start-up

${startTable(start)}

From nothing to 100 services, as the peers harness starts them:

${startApplyTable(startApply)}

### Output

${formatLogsBench(logs)}

### Readiness

| measure | median | p90 | limit (same run) |
|---|---|---|---|
${row(`port listening → \`status\` says ready (${ready.intervalMs} ms probe interval)`, ready.latencyMs, `${ready.intervalMs} ms (one interval)`)}

HAM CPU with ${ready.entities} entities probed and refused: ${fmt(ready.probingCpuMsPerS)} ms a second; once all are ready: ${fmt(ready.readyCpuMsPerS)} ms a second (probing stops).

### HTTP (\`ham start --http\`, ${http.entities} entities)

| measure | p50 | p90 |
|---|---|---|
| \`GET /metrics\` (${fmt(http.metricsBytes / 1024)} KiB) | ${fmt(http.metricsMs.p50)} ms | ${fmt(http.metricsMs.p90)} ms |
| \`GET /api/status\` | ${fmt(http.statusMs.p50)} ms | ${fmt(http.statusMs.p90)} ms |

HAM PSS: ${fmt(http.hamPssOffKiB / 1024)} MiB without \`--http\`, ${fmt(http.hamPssOnKiB / 1024)} MiB with it, ${fmt(http.hamPssAfterScrapesKiB / 1024)} MiB after the scrapes.

### HAM SIGKILLed while ${n} start

| measure | median | p90 | check |
|---|---|---|---|
${row('HAM SIGKILL → a new HAM answers', ts.answered, '-')}
${row(`HAM SIGKILL → all ${n} running`, ts.allRunning, `keepers afterwards: ${ts.keepers.join(', ')} (each started once: ${n})`)}
`;
}
