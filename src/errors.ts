// The error shape lives in the model (model/errors.ts), where every layer may
// import it; this file keeps the older import path working for the rest.
export * from './model/errors.js';
// Issues and failures are records too (stored in events and action counters): their types live in the model.
export { STDERR_TAIL_MAX, type Failure, type Issue } from './model/failures.js';
