// An object this process owns, as the core worker keeps it (core-worker.ts), and what waits on it.
import type { ErrorInfo } from "../errors.js";
import type { TaskId } from "../ids.js";
import type { WireValue } from "../protocol.js";

export interface OwnedObject {
  value?: WireValue;
  error?: ErrorInfo;
  /** Called once it settles (made on first wait: most objects are never waited for unsettled). */
  waiters?: ((o: OwnedObject) => void) | Array<(o: OwnedObject) => void>;
  /** Pending tasks that take this object as an argument. */
  pins: number;
  /** A ref to it was sent to another process; kept until this owner exits. */
  escaped: boolean;
  task?: TaskId;
}

export type Outcome = { value: WireValue } | { error: ErrorInfo };

/** A waiter is called once, when the object settles (one function, or a list of them). */
export function addWaiter(o: OwnedObject, f: (o: OwnedObject) => void): void {
  const w = o.waiters;
  if (w === undefined) o.waiters = f;
  else if (typeof w === "function") o.waiters = [w, f];
  else w.push(f);
}
