// wait(): the first `numReturns` of a list of refs that are ready, within a timeout.
import type { ObjectRef } from "./object-ref.js";
import type { Outcome } from "./objects/object-table.js";

/** What wait() needs of its owner (the core worker; a fake in a unit test). */
export interface WaitHost {
  isReady(id: ObjectRef["id"]): boolean;
  /** Call `f` once an owned object settles; undefined when another process owns it. */
  whenSettled(id: ObjectRef["id"], f: () => void): (() => void) | undefined;
  locate(ref: ObjectRef): Promise<Outcome>;
  hold<T>(p: Promise<T>): Promise<T>;
}

export interface WaitResult { ready: ObjectRef[]; pending: ObjectRef[] }

export async function waitRefs(core: WaitHost, refs: ObjectRef[], numReturns: number, timeoutMs?: number): Promise<WaitResult> {
  // Fast path: enough of our own objects are ready already (no promise per ref).
  const ready: ObjectRef[] = [];
  const pending: ObjectRef[] = [];
  for (const r of refs) (ready.length < numReturns && core.isReady(r.id) ? ready : pending).push(r);
  if (ready.length >= numReturns) return { ready, pending };
  const done = await core.hold(settled(core, refs, numReturns, timeoutMs));
  ready.length = pending.length = 0;
  for (const r of refs) (done.has(r) && ready.length < numReturns ? ready : pending).push(r);
  return { ready, pending };
}

/**
 * The refs that settled by the time `numReturns` of them had, or the timeout passed. One watch
 * per pending owned object, stopped again when this wait ends: repeated waits over a long list
 * (wait(notReady) in a loop) must not pile up waiters.
 */
function settled(core: WaitHost, refs: ObjectRef[], numReturns: number, timeoutMs?: number): Promise<Set<ObjectRef>> {
  const done = new Set<ObjectRef>();
  return new Promise((resolve) => {
    const stops: Array<() => void> = [];
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      for (const stop of stops) stop();
      resolve(done);
    };
    const mark = (r: ObjectRef) => { if (!finished) { done.add(r); if (done.size >= numReturns) finish(); } };
    const timer = timeoutMs !== undefined ? setTimeout(finish, timeoutMs) : undefined;
    if (numReturns === 0) return finish();
    for (const r of refs) {
      if (finished) break;
      const stop = core.whenSettled(r.id, () => mark(r));
      if (stop) stops.push(stop);
      else core.locate(r).then(() => mark(r), () => mark(r));   // another process owns it
    }
  });
}
