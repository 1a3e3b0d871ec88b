// Branded ids: a TaskId cannot be passed where an ObjectId is expected.
import { customAlphabet } from "nanoid";
import { InvalidIdError } from "./errors.js";

type Brand<T, B extends string> = T & { readonly __brand: B };
export type TaskId = Brand<string, "TaskId">;
export type ObjectId = Brand<string, "ObjectId">;
export type ActorId = Brand<string, "ActorId">;
export type NodeId = Brand<string, "NodeId">;
export type WorkerId = Brand<string, "WorkerId">;
export type JobId = Brand<string, "JobId">;
export type LeaseId = Brand<string, "LeaseId">;

const gen = customAlphabet("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 16);

// Task and put ids are made per call on the hot path: a random prefix per process and a counter
// (unique across the cluster as the prefix is, and a third of the cost of 16 random characters).
const prefix = customAlphabet("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 12)();
let counter = 0;
const next = () => prefix + (counter++).toString(36);

/** A number for a new task of this process: taskIdOf(n) is its id (an owner keeps tasks' numbers where it must not hold their id strings, e.g. its event ring). */
export const newTaskNumber = (): number => counter++;
/** The id of this process's task number `n`. */
export const taskIdOf = (n: number): TaskId => (prefix + n.toString(36)) as TaskId;
export const newTaskId = () => next() as TaskId;
export const newActorId = () => ("a" + gen()) as ActorId;
export const newNodeId = () => ("n" + gen()) as NodeId;
export const newWorkerId = () => ("w" + gen()) as WorkerId;
export const newJobId = () => ("j" + gen()) as JobId;
export const newLeaseId = () => ("l" + gen()) as LeaseId;
export const newPutId = () => ("p" + next()) as ObjectId;
/** The i-th return object of a task: derivable, so retries produce the same ids. */
export const returnId = (task: TaskId, i: number) => `${task}.${i}` as ObjectId;

/**
 * What an object id looks like: a task id (letters and digits) with the index of a return
 * (`<task>.<i>`), or a put id (letters and digits). Object ids name files in the node's store,
 * so every edge that takes one from a peer checks it: `../x`, `/etc/x`, NUL or a slash never
 * reach a path.
 */
const OBJECT_ID = /^[A-Za-z0-9]{1,64}(?:\.[0-9]{1,9})?$/;

/** `id` as an ObjectId, or InvalidIdError; e.g. objectId("p3fk2a9c0x1b") passes, objectId("../x") throws. */
export function objectId(id: unknown): ObjectId {
  if (typeof id === "string" && OBJECT_ID.test(id)) return id as ObjectId;
  throw new InvalidIdError(`${JSON.stringify(id)?.slice(0, 80)} is not an object id (letters and digits, then an optional .<n>). ` +
    "Tip: pass ids from the ObjectRefs Helios made; an id is never a path.");
}
