// helios: distributed tasks, actors and objects for Node.js and TypeScript.
export { init, shutdown, put, get, wait, cancel, kill, getActor, getRuntimeContext, isInitialized } from "./api.js";
export type { GetOptions, WaitOptions, RuntimeContext } from "./api.js";
export { remote } from "./remote.js";
export { ObjectRef } from "./core/object-ref.js";
export * from "./errors.js";
export type * from "./types.js";
