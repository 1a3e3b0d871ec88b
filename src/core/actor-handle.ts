// Actor handles: plain objects with one entry per method; they travel between processes
// as their ActorRecord and work the same wherever they land.
import type { ActorId } from "../ids.js";
import type { CallOptions } from "../types.js";
import { ActorMethodNotFoundError } from "../errors.js";
import { checkCallOptions } from "../options.js";

const ACTOR = Symbol.for("helios.actor");

export interface ActorRecord {
  actorId: ActorId;
  className: string;
  methods: string[];
  name?: string;
  namespace?: string;
  /** Calls in flight when the actor restarts are sent again up to this many times. */
  maxTaskRetries?: number;
  /** Calls submitted from one process and not answered before the next one throws PendingCallsLimitExceededError (-1: no limit). */
  maxPendingCalls?: number;
}

/** Where a handle's calls go: the runtime that made or received it. */
export interface ActorCallSink {
  callActor(actor: ActorRecord, method: string, args: unknown[], options: CallOptions): unknown;
}

export function makeActorHandle(record: ActorRecord, sink: ActorCallSink): any {
  const handle: any = Object.create(missingMethods(record));
  Object.defineProperty(handle, ACTOR, { value: record });
  Object.defineProperty(handle, "actorId", { get: () => record.actorId, enumerable: true });
  for (const m of record.methods) handle[m] = method(record, m, {}, sink);
  handle[Symbol.for("nodejs.util.inspect.custom")] = () => `ActorHandle(${record.className}, ${record.actorId})`;
  return Object.freeze(handle);
}

function method(record: ActorRecord, name: string, options: CallOptions, sink: ActorCallSink): any {
  const m = () => {
    throw new TypeError(`${record.className}.${name} is an actor method: call it with handle.${name}.remote(...args) and read the result with get().`);
  };
  // The call's name ("Class.method" unless options name it) is made once, not per call.
  const callOptions = options.name !== undefined ? options : { ...options, name: `${record.className}.${name}` };
  m.remote = (...args: unknown[]) => sink.callActor(record, name, args, callOptions);
  m.options = (o: CallOptions) => method(record, name, { ...options, ...checkCallOptions(o) }, sink);
  return m;
}

/**
 * What a handle answers for a name that is not one of its methods (from JavaScript, or a
 * handle typed as another class): a method whose every use throws ActorMethodNotFoundError,
 * where `handle.nosuch.remote()` would otherwise be a bare TypeError about `undefined`. It is
 * the handle's prototype, so the lookup of a real method (an own property) never reaches it.
 * Names that JavaScript probes for on any value (then, toJSON, ...) and symbols stay undefined:
 * a handle must not look like a promise.
 */
function missingMethods(record: ActorRecord): object {
  return new Proxy(Object.create(null), {
    get(_target, name) {
      if (typeof name !== "string" || PROBED.has(name)) return undefined;
      const fail = () => { throw notFound(record, name); };
      const m = () => fail();
      m.remote = fail;
      m.options = () => m;
      return m;
    },
  });
}

const PROBED = new Set(["then", "catch", "finally", "toJSON", "constructor", "valueOf", "toString", "__proto__", "inspect",
  "asymmetricMatch", "$$typeof", "nodeType", "prototype"]);

function notFound(record: ActorRecord, name: string): ActorMethodNotFoundError {
  const known = record.methods.length ? record.methods.join(", ") : "none";
  return new ActorMethodNotFoundError(`actor class ${record.className} has no method '${name}' (its methods: ${known}). ` +
    "Tip: check the method's name; only methods defined in the class body (not properties set in the constructor) can be called remotely.");
}

export const isActorHandle = (v: object): boolean => (v as any)[ACTOR] !== undefined;
export const actorRecord = (v: object): ActorRecord => (v as any)[ACTOR];
export const encodeActorHandle = (v: object): ActorRecord => actorRecord(v);
export const decodeActorHandle = (d: ActorRecord, sink: ActorCallSink): object => makeActorHandle(d, sink);
