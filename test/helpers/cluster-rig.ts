// For a cluster test file that starts its nodes by hand (startNode in ./cluster.ts): an etcd, the
// witness and fresh homes per test, cleaned up after it. Apart from ./cluster.ts because it uses
// vitest's hooks, and the benchmarks import ./cluster.ts outside vitest.
import { afterEach, beforeEach } from 'vitest';
import { startEtcd, startWitness, type TestEtcd, type Witness } from './etcd.js';
import { tempHome, type TestHome } from './ham.js';

export interface NodesRig {
  readonly etcd: TestEtcd;
  readonly witness: Witness;
  /** Fresh temporary homes for each test, started as nodes by the test itself (startNode). */
  readonly homes: TestHome[];
  /** Exactly one instance live, on `node`, by the witness. */
  runningOn(node: string): () => boolean;
}

/** For a test file that starts its nodes by hand: an etcd, the witness and `n` homes per test, all cleaned up after it. */
export function nodesRig(n = 2): NodesRig {
  let etcd: TestEtcd | undefined;
  let witness: Witness | undefined;
  let homes: TestHome[] = [];
  beforeEach(async () => {
    etcd = await startEtcd();
    witness = await startWitness();
    homes = Array.from({ length: n }, () => tempHome());
  });
  afterEach(async (ctx) => {
    for (const h of homes.splice(0)) h.cleanup(ctx);
    await witness?.close();
    await etcd?.stop();
  });
  return {
    get etcd() {
      return etcd!;
    },
    get witness() {
      return witness!;
    },
    get homes() {
      return homes;
    },
    runningOn: (node) => () => witness!.live().length === 1 && witness!.live()[0]!.node === node,
  };
}
