// The owner's record of one attempt of a task, and the lineage recipe a finished task leaves.
// Only the task manager (task-manager.ts) writes `state`; the submitter reads it.
import type { CodeDescriptor } from "../../code/descriptor.js";
import type { EnvVars, LeaseGrant, Resources, Strategy, TaskSpec } from "../../protocol.js";
import type { ObjectId, TaskId } from "../../ids.js";
import type { ObjectRef } from "../object-ref.js";
import type { Serialized } from "../../serialization.js";
import type { TaskState } from "./task-states.js";

/** A ref argument as lineage keeps it: id and owner, not a live handle. */
export interface RefInput { lineageRef: ObjectId; owner: string }
export type Input = ObjectRef | Serialized | RefInput;

/** The worker a task was pushed to, as the submitter's lease shows it. */
export interface LeaseRef { readonly grant: LeaseGrant }

/** What a task needs to run, whichever attempt it is. */
export interface TaskShape {
  fn: CodeDescriptor;
  resources: Resources;
  strategy?: Strategy;
  /** The queue it waits in: resources, strategy, lease limit and variables (computed once per options object). */
  shape: string;
  maxLeases?: number;
  /** runtimeEnv.envVars: leased workers were started with them. */
  envVars?: EnvVars;
  returnIds: ObjectId[];
  retryExceptions?: boolean | string[];
}

export interface TaskRecord extends TaskShape {
  spec: TaskSpec;
  /** The task's number in its owner (spec.taskId is taskIdOf(num)): what its events hold. */
  readonly num: number;
  /** Written by TaskManager.transition() only. */
  readonly state: TaskState;
  /** Objects kept alive until the task ends (ref arguments, large inline arguments). */
  pinned: ObjectId[];
  cancelled?: boolean;
  /** Set by the submitter when it pushes the task. */
  lease?: LeaseRef;
  /** Retries left after worker or node loss (-1: forever); 1 for the first attempt, +1 per retry or reconstruction. */
  retriesLeft: number;
  attempts: number;
  /** The arguments as given (refs unresolved), kept to resolve them again when the task is sent again. */
  inputs?: Input[];
  /** Internal put()s that carry its large by-value arguments: part of the task, kept with its lineage. */
  internal?: Set<ObjectId>;
  /** Times the task was sent again because an argument's stored copy was lost. */
  relocations?: number;
  /** The sequence number of its last event in the process's event ring (its story is read from there), or NO_EVENT. */
  lastEvent: number;
}

/**
 * How to make a finished task's returns again: made when it finishes with stored returns,
 * never changed (a reconstruction that finishes replaces it with its own). Inputs hold refs by
 * id only, so a recipe never keeps its inputs' values alive.
 */
export interface Recipe extends Readonly<TaskShape> {
  readonly taskId: TaskId;
  readonly num: number;
  readonly spec: Readonly<Omit<TaskSpec, "args" | "fn" | "actor">>;
  /** Its arguments: as given (refs by id) when some were refs, else as sent (`args`, all values). */
  readonly inputs: readonly Input[] | undefined;
  readonly args: TaskSpec["args"] | undefined;
  readonly internal: ReadonlySet<ObjectId> | undefined;
  /** Retries left and attempts run when it finished: a reconstruction is the next attempt. */
  readonly retriesLeft: number;
  readonly attempts: number;
}
