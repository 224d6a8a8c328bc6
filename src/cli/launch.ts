// What the CLI needs of the machine, beyond the socket, to start and stop the
// pair: make and judge the home (as the daemon will), open the daemon's log,
// find the daemon's entry point, and tell whether a pid still runs. The one
// CLI file the layout lets import helpers outside the protocol and the model
// (test/layout/imports.test.ts); everything else in the CLI talks to the HAM.
export { ensureHome } from '../home.js';
export { openLog } from '../home-check.js';
export { DAEMON_MAIN, DAEMON_MALLOC_ENV, DAEMON_NODE_FLAGS, daemonSpawn } from '../paths.js';
export { findProcesses, isAlive, startTime } from '../proc/procfs.js';
// `ham status` and `ham top` read what each running entity uses (its main pid) here.
export { bootUptimeMs, procUsage, TICKS_PER_SECOND, type ProcUsage } from '../proc/usage.js';
