// get() of a list of refs: where each value is, then the values in order.
import type { ObjectRef } from "./object-ref.js";
import { addWaiter, settled as isSettled, type ObjectEntry, type Outcome } from "./objects/object-table.js";
import { GetTimeoutError, fromErrorInfo, type ErrorInfo } from "../errors.js";
import type { WireValue } from "../protocol.js";

/** What get() needs of its owner (the core worker; a fake in a unit test). */
export interface GetHost {
  isReady(id: ObjectRef["id"]): boolean;
  /** The owned object's entry (its copy declared lost first if that copy's node died); undefined when another process owns it. */
  owned(id: ObjectRef["id"]): ObjectEntry | undefined;
  /** Where a value is: waits for an owned one to settle, asks the owner of another. */
  locate(ref: ObjectRef): Promise<Outcome>;
  /** The user's value of a located object (a stored copy that cannot be read is relocated). */
  read(ref: ObjectRef, o: Outcome): Promise<unknown>;
  /** Decode an inline value (with this process's refs and handles). */
  deserialize(bytes: Uint8Array): unknown;
  /** Keep the process alive while `p` is awaited. */
  hold<T>(p: Promise<T>): Promise<T>;
  /** Set in a worker: tell its agent it blocks (its CPU is lent out meanwhile). */
  readonly blockedHook?: (blocked: boolean) => Promise<void>;
}

/** What locateAll() found for a ref: the owned object itself, or an outcome. */
export type Located = { value?: WireValue; error?: ErrorInfo };

/** get(refs, …, failFast) rejected: the ref at `index` failed (read it for its error). */
export class FailedRef extends Error {
  constructor(readonly index: number) { super(`item ${index} failed`); }
}

/** The values of refs in order (CoreWorker.get). `failFast`: reject with FailedRef as soon as one of them fails (helios/util's Pool). */
export async function getValues(core: GetHost, refs: ObjectRef[], timeoutMs?: number, failFast = false): Promise<unknown[]> {
  const work = locateAll(core, refs, failFast);
  const notReady = refs.some((r) => !core.isReady(r.id));
  if (notReady && core.blockedHook) await core.blockedHook(true);
  try {
    const located = timeoutMs === undefined ? work : withTimeout(work, timeoutMs, () =>
      new GetTimeoutError(`get() timed out after ${timeoutMs} ms waiting for ${refs.filter((r) => !core.isReady(r.id)).length || "some"} of ${refs.length} object(s). Tip: raise the timeout, or use wait() to take what is ready.`));
    return await core.hold(located.then((found) => readAll(core, refs, found)));
  } finally {
    if (notReady && core.blockedHook) await core.blockedHook(false);
  }
}

/**
 * locate() for a list. An owned object is its own entry, watched by one callback shared by
 * the whole list (get() of 100k task results had made ~5 promises per ref); the others are
 * located one by one. `failFast`: reject with FailedRef as soon as one of them fails.
 */
export function locateAll(core: GetHost, refs: ObjectRef[], failFast: boolean): Promise<Located[]> {
  const out = new Array<Located>(refs.length);
  let left = 1;
  let done!: (o: Located[]) => void;
  let fail!: (e: unknown) => void;
  const all = new Promise<Located[]>((resolve, reject) => { done = resolve; fail = reject; });
  const one = () => { if (--left === 0) done(out); };
  const settled = failFast ? (o: ObjectEntry) => { if (o.error) fail(new FailedRef(out.indexOf(o))); one(); } : one;
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i];
    const obj = core.owned(ref.id);
    if (!obj) {
      left++;
      core.locate(ref).then((o) => {
        if (failFast && "error" in o) fail(new FailedRef(i));
        out[i] = o;
        one();
      }, fail);
      continue;
    }
    out[i] = obj;
    if (isSettled(obj)) {
      if (failFast && obj.error) { fail(new FailedRef(i)); return all; }
      continue;
    }
    left++;
    addWaiter(obj, settled);
  }
  one();
  return all;
}

/** The values of located objects: inline ones decoded here and now, stored ones read (CoreWorker.read). */
export function readAll(core: GetHost, refs: ObjectRef[], located: Located[]): unknown[] | Promise<unknown[]> {
  for (const o of located) if (o.error) throw fromErrorInfo(o.error);
  const values = new Array<unknown>(refs.length);
  let slow: Promise<void>[] | undefined;
  for (let i = 0; i < refs.length; i++) {
    const v = located[i].value;
    if (v && "v" in v) { values[i] = core.deserialize(v.v); continue; }
    // Stored; or made again since it was located (lineage): where it is now.
    const read = v ? core.read(refs[i], { value: v }) : core.locate(refs[i]).then((o) => core.read(refs[i], o));
    (slow ??= []).push(read.then((x) => { values[i] = x; }));
  }
  return slow ? Promise.all(slow).then(() => values) : values;
}

function withTimeout<T>(p: Promise<T>, ms: number, err: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(err()), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
