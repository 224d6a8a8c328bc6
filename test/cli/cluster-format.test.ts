// How the CLI prints the cluster's parts (README "Cluster"): a placed entity every node gave up
// on, with the nodes and what to do; a cluster event's line in `ham events`. Starts no process.
import { describe, expect, it } from 'vitest';
import { formatCluster } from '../../src/cli/cluster.js';
import { formatEvent } from '../../src/cli/format.js';

describe('cluster output', () => {
  it('status: the nodes that gave up, the reset that brings it back, failback', () => {
    const text = formatCluster({
      node: 'a',
      etcd: ['http://127.0.0.1:2379'],
      prefix: '/ham/',
      ttlMs: 3000,
      connected: true,
      lease: '7',
      lastRenewal: null,
      lastError: null,
      tls: null,
      nodes: [{ name: 'a', lease: '7', self: true }],
      placed: [
        {
          name: 'db',
          policy: 'favored',
          nodes: ['a', 'b'],
          unknownNodes: [],
          owner: null,
          token: null,
          state: 'gave-up',
          since: null,
          gaveUp: ['a', 'b'],
          failback: true,
        },
      ],
    });
    expect(text).toContain('db  gave-up  owner -  token -  favored [a, b]  gave up: a, b (`ham reset db` there)  failback');
  });

  it('events: a cluster event names what happened, the entity, node and token', () => {
    const line = formatEvent({
      seq: 4,
      time: '2026-12-02T14:41:01.551Z',
      entity: '*',
      condition: 'cluster',
      cluster: { event: 'gave-up', entity: 'db', node: 'a', token: '42' },
      detail: 'escalated and gave up',
      fired: [{ owner: '*', condition: 'page' }],
    });
    expect(line).toBe('#4 14:41:01.551 * cluster (gave-up db node a token 42, escalated and gave up)  → */page');
  });
});
