// The importers, by the name `ham import` takes.
export { toYaml } from './emit.js';
export { importPm2 } from './pm2.js';
export { importSupervisord } from './supervisord.js';
export { importSystemd } from './systemd.js';
export type { Imported } from './model.js';
