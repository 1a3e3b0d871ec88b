// The error taxonomy of DESIGN.md: one exported class each, `name` set, `cause` kept.
// Errors cross processes as plain ErrorInfo records and are rebuilt with fromErrorInfo().
// `isHeliosError` uses a Symbol.for marker so two copies of the library agree.

const MARK = Symbol.for("helios.error");

export class HeliosError extends Error {
  readonly [MARK] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export const isHeliosError = (e: unknown): e is HeliosError =>
  typeof e === "object" && e !== null && (e as any)[MARK] === true;

export interface TaskErrorDetails {
  originalName: string;
  originalMessage: string;
  remoteStack: string;
  taskName: string;
  pid: number;
  nodeId: string;
  attempts?: number;
  /** Which item of a batch the exception was thrown on (helios/util's Pool runs several items in one task). */
  item?: number;
}

/** A user exception thrown by a task or actor method; `cause` is the rebuilt original. */
export class TaskError extends HeliosError {
  readonly originalName: string;
  readonly remoteStack: string;
  readonly taskName: string;
  readonly pid: number;
  readonly nodeId: string;
  /** The item of a batch it was thrown on (a Pool chunk of several items), when known. */
  readonly item?: number;
  constructor(d: TaskErrorDetails) {
    const cause = new Error(d.originalMessage);
    cause.name = d.originalName;
    cause.stack = d.remoteStack;
    super(`${d.originalName}: ${d.originalMessage} (in ${d.taskName}, pid=${d.pid}, node=${d.nodeId})\n` +
      `Remote stack:\n${d.remoteStack}`, { cause });
    this.originalName = d.originalName;
    this.remoteStack = d.remoteStack;
    this.taskName = d.taskName;
    this.pid = d.pid;
    this.nodeId = d.nodeId;
    if (d.item !== undefined) this.item = d.item;
  }
}

export class GetTimeoutError extends HeliosError {}
export class WorkerCrashedError extends HeliosError {}
export class NodeDiedError extends HeliosError {}
export class ActorDiedError extends HeliosError {}
export class ActorUnavailableError extends HeliosError {}
export class ObjectLostError extends HeliosError {}
export class OwnerDiedError extends ObjectLostError {}
export class TaskCancelledError extends HeliosError {}
export class OutOfMemoryError extends HeliosError {}
export class ObjectStoreFullError extends HeliosError {}
export class AuthenticationError extends HeliosError {}
export class VersionMismatchError extends HeliosError {}
/** A task or actor asks for resources that no node in the cluster has in total. */
export class TaskUnschedulableError extends HeliosError {}
/** The head stayed unreachable longer than a client waits for it to come back (HELIOS_HEAD_RECONNECT_MS). */
export class HeadUnavailableError extends HeliosError {}
/** An API called in a state that does not allow it (e.g. before init()). */
export class IllegalStateError extends HeliosError {}
/** An id (object id, package hash) that is not of the form Helios makes: refused before it names a file. */
export class InvalidIdError extends HeliosError {}
/** A directory Helios keeps private data in exists already and is not this user's own (or not a directory). */
export class UnsafeDirectoryError extends HeliosError {}
/** A code package whose bytes do not hash to the name it was uploaded or downloaded under. */
export class PackageIntegrityError extends HeliosError {}

/** A value that cannot cross a process boundary; names the argument path and its type. */
export class SerializationError extends HeliosError {
  constructor(readonly path: string, readonly typeName: string, why: string) {
    super(`cannot serialize ${path} (${typeName}): ${why}`);
  }
}

/** Plain-data form of an error, as it travels between processes. */
export interface ErrorInfo {
  /** A Helios error's name (checked against the table), a built-in's, or a name read off a foreign error (`foreignName()`). */
  name: ErrorName | BuiltinErrorName | ForeignErrorName;
  message: string;
  task?: TaskErrorDetails;
  cause?: ErrorInfo;
  /** ObjectLostError of a task argument: which stored copy could not be read (its owner rebuilds it). */
  lost?: { id: string; node: string };
}

/** A task's argument resolved to an error: the task fails with that same error. */
export class ArgumentError extends Error {
  constructor(readonly info: ErrorInfo) { super(info.message); this.name = info.name; }
}

export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof ArgumentError) return e.info;
  if (e instanceof TaskError) {
    return { name: "TaskError", message: e.message, task: {
      originalName: e.originalName, originalMessage: (e.cause as Error).message,
      remoteStack: e.remoteStack, taskName: e.taskName, pid: e.pid, nodeId: e.nodeId, ...(e.item !== undefined ? { item: e.item } : {}) } };
  }
  if (e instanceof Error) {
    const info: ErrorInfo = { name: foreignName(e.name), message: e.message };
    if (e.cause instanceof Error) info.cause = toErrorInfo(e.cause);
    return info;
  }
  return { name: "Error", message: String(e) };
}

/**
 * The ErrorInfo of a non-task error by its known name: `errorInfo("OwnerDiedError", "…")`.
 * A misspelled name does not compile.
 */
export function errorInfo(name: ErrorName | BuiltinErrorName, message: string, more: Pick<ErrorInfo, "cause" | "lost"> = {}): ErrorInfo {
  return { name, message, ...more };
}

/** A name read off an error of unknown class (a user's, a dependency's): it travels as it is. */
export function foreignName(name: string): ForeignErrorName { return name as ForeignErrorName; }

export function fromErrorInfo(info: ErrorInfo): Error {
  if (info.task) return new TaskError(info.task);
  const Cls = Object.hasOwn(byName, info.name) ? byName[info.name as keyof typeof byName] : undefined;
  if (Cls) {
    const e = new Cls(info.message);
    if (info.cause) Object.defineProperty(e, "cause", { value: fromErrorInfo(info.cause), configurable: true, writable: true });
    return e;
  }
  if (info.name === "SerializationError") {
    const e = new HeliosError(info.message);
    e.name = "SerializationError";
    return e;
  }
  const e = new Error(info.message);
  e.name = info.name;
  return e;
}

// ---- requests refused at the edge of the control plane (src/rpc/schema.ts) ----------------

/** A control-plane request whose body does not have its method's shape (gRPC's INVALID_ARGUMENT); names the method and the wrong place. */
export class InvalidRequestError extends HeliosError {}

// ---- Bounds and messages: options out of range, methods an actor does not have ----------

/**
 * An option or argument out of its range, caught where it was given (options(), init(),
 * getActor()). A TypeError too, so code that caught the TypeError these calls threw keeps working.
 */
export class InvalidArgumentError extends TypeError {
  readonly [MARK] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A call to a method the actor's class does not have (from JavaScript, or a handle of another class). */
export class ActorMethodNotFoundError extends HeliosError {}

// ---- Back-pressure on actor handles (maxPendingCalls) -------------------------------------

/** A call on an actor handle that already has maxPendingCalls calls submitted and not answered (Ray's PendingCallsLimitExceeded). */
export class PendingCallsLimitExceededError extends HeliosError {}

/** A wire connection closed (or was closed already) before the peer answered a request. Never sent across: a peer's is its own. */
export class ConnectionClosedError extends HeliosError {
  constructor(message = "connection closed") { super(message); }
}

// ---- the table: every error a process rebuilds from its ErrorInfo by name ----------------

/** Each Helios error class by its name, for fromErrorInfo(). A new class goes here. */
const byName = {
  GetTimeoutError, WorkerCrashedError, NodeDiedError, ActorDiedError, ActorUnavailableError,
  ObjectLostError, OwnerDiedError, TaskCancelledError, OutOfMemoryError, ObjectStoreFullError,
  AuthenticationError, VersionMismatchError, TaskUnschedulableError, IllegalStateError, HeadUnavailableError,
  InvalidIdError, UnsafeDirectoryError, PackageIntegrityError, InvalidRequestError, ActorMethodNotFoundError,
  PendingCallsLimitExceededError,
} satisfies Record<string, new (message: string) => HeliosError>;

/** The names an ErrorInfo of Helios's own may carry (TaskError and SerializationError are rebuilt by their fields). */
export type ErrorName = keyof typeof byName | "TaskError" | "SerializationError";
/** Built-in JavaScript error names, which a process may send as they are (a TypeError from a bad kv key). */
export type BuiltinErrorName = "Error" | "TypeError" | "RangeError" | "SyntaxError" | "ReferenceError" | "EvalError" | "URIError" | "AggregateError";
/** Any other name, read off an error at run time (`foreignName(e.name)`): a string literal is not one, so a misspelled known name fails to compile. */
export type ForeignErrorName = string & { readonly [foreign]: true };
declare const foreign: unique symbol;
