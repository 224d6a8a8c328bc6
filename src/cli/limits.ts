// How the CLI shows the store's use against its limits.
import type { StoreUse } from '../model/limits.js';

const mib = (n: number): string => `${(n / (1024 * 1024)).toFixed(1)} MiB`;

export function formatStoreUse(u: StoreUse): string {
  const pct = Math.round((100 * u.usedBytes) / u.limitBytes);
  return `store: ${mib(u.usedBytes)} used of ${mib(u.limitBytes)} (${pct}%; configuration and saved states stop at ${mib(u.userLimitBytes)})`;
}
