// Logs for the client library: an entity's captured output (README "Output"),
// read from the home's files (no daemon needed), and followed as it is written.
export { followLogs, readLogs, type FollowOptions, type LogQuery } from '../logs/follow.js';
export type { LogLine, LogStream } from '../logs/line.js';
