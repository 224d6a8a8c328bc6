// What the cluster runtime is handed of the HAM: defined by the core (src/ham/cluster-part.ts).
export type { ApplyReply, ClusterPort } from '../ham/cluster-part.js';
