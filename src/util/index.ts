// helios/util: the familiar shapes of parallel programs on top of Helios tasks and actors.
//   Pool        multiprocessing.Pool: map/imap/starmap/apply over tasks, at most N at once
//   Process     multiprocessing.Process: one function on a worker, start()/join()
//   ActorPool   ray.util.ActorPool: spread calls over a fixed set of actors
//   Queue       queue.Queue / ray.util.queue.Queue: a FIFO actor shared by driver, tasks, actors
//   progress    get() for many refs with a progress bar on a terminal
export { Pool, PoolItemError } from "./pool.js";
export type { PoolOptions, MapOptions, ApplyOptions, Target } from "./pool.js";
export { AsyncResult } from "./async-result.js";
export { Process } from "./process.js";
export type { ProcessOptions } from "./process.js";
export { ActorPool } from "./actor-pool.js";
export type { ActorCall, NextOptions } from "./actor-pool.js";
export { Queue, Full, Empty } from "./queue.js";
export type { QueueOptions, QueueState, PutOptions, GetOptions } from "./queue.js";
export { progress } from "./progress.js";
export type { ProgressOptions } from "./progress.js";
