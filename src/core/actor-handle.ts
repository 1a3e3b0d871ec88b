// Actor handles: plain objects with one entry per method; they travel between processes
// as their ActorRecord and work the same wherever they land.
import type { ActorId } from "../ids.js";
import type { CallOptions } from "../types.js";

const ACTOR = Symbol.for("helios.actor");

export interface ActorRecord {
  actorId: ActorId;
  className: string;
  methods: string[];
  name?: string;
  namespace?: string;
  /** Calls in flight when the actor restarts are sent again up to this many times. */
  maxTaskRetries?: number;
}

export interface ActorCallSink {
  callActor(actor: ActorRecord, method: string, args: unknown[], options: CallOptions): unknown;
}
let sink: ActorCallSink | undefined;
export function setActorCallSink(s: ActorCallSink): void { sink = s; }

export function makeActorHandle(record: ActorRecord): any {
  const handle: any = Object.create(null);
  Object.defineProperty(handle, ACTOR, { value: record });
  Object.defineProperty(handle, "actorId", { get: () => record.actorId, enumerable: true });
  for (const m of record.methods) handle[m] = method(record, m, {});
  handle[Symbol.for("nodejs.util.inspect.custom")] = () => `ActorHandle(${record.className}, ${record.actorId})`;
  return Object.freeze(handle);
}

function method(record: ActorRecord, name: string, options: CallOptions): any {
  const m = () => {
    throw new TypeError(`${record.className}.${name} is an actor method: call it with handle.${name}.remote(...args) and read the result with get().`);
  };
  m.remote = (...args: unknown[]) => {
    if (!sink) throw new Error("Helios is not initialized: call await init() first");
    return sink.callActor(record, name, args, options);
  };
  m.options = (o: CallOptions) => method(record, name, { ...options, ...o });
  return m;
}

export const isActorHandle = (v: object): boolean => (v as any)[ACTOR] !== undefined;
export const actorRecord = (v: object): ActorRecord => (v as any)[ACTOR];
export const encodeActorHandle = (v: object): ActorRecord => actorRecord(v);
export const decodeActorHandle = (d: ActorRecord): object => makeActorHandle(d);
