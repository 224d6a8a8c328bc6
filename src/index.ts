// The package root: the client library.
export { connect, HamClient, SelfHandle, type AttachOptions, type EventFilter, type Subscription } from './client/client.js';
export { HamError, type HamErrorShape } from './errors.js';
export type { EventView } from './protocol/views.js';
export { followLogs, readLogs, type FollowOptions, type LogLine, type LogQuery, type LogStream } from './client/logs.js';
