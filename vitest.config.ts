import { defineConfig } from 'vitest/config';

// The suites spawn real daemons and kill them; running files one at a time
// keeps a 2-core machine from starving the hang detector into false alarms.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
