// helios: distributed tasks, actors and objects for Node.js and TypeScript.
export { init, shutdown, put, get, wait, cancel, kill, getActor, getRuntimeContext, isInitialized } from "./api.js";
export type { GetOptions, WaitOptions, RuntimeContext } from "./api.js";
export { remote } from "./remote.js";
export { kv } from "./kv.js";
export type { KvOptions } from "./kv.js";
export { ObjectRef } from "./core/object-ref.js";
export {
  HeliosError, isHeliosError, TaskError, GetTimeoutError, WorkerCrashedError, NodeDiedError, ActorDiedError,
  ActorUnavailableError, ObjectLostError, OwnerDiedError, TaskCancelledError, SerializationError, OutOfMemoryError,
  ObjectStoreFullError, AuthenticationError, VersionMismatchError, TaskUnschedulableError, IllegalStateError,
  HeadUnavailableError, InvalidIdError, UnsafeDirectoryError, PackageIntegrityError, InvalidRequestError,
} from "./errors.js";
export { InvalidArgumentError, ActorMethodNotFoundError, PendingCallsLimitExceededError } from "./errors.js";
export type * from "./types.js";
