// Branded ids: a TaskId cannot be passed where an ObjectId is expected.
import { customAlphabet } from "nanoid";

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

export const newTaskId = () => next() as TaskId;
export const newActorId = () => ("a" + gen()) as ActorId;
export const newNodeId = () => ("n" + gen()) as NodeId;
export const newWorkerId = () => ("w" + gen()) as WorkerId;
export const newJobId = () => ("j" + gen()) as JobId;
export const newLeaseId = () => ("l" + gen()) as LeaseId;
export const newPutId = () => ("p" + next()) as ObjectId;
/** The i-th return object of a task: derivable, so retries produce the same ids. */
export const returnId = (task: TaskId, i: number) => `${task}.${i}` as ObjectId;
