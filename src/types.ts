// The public types of the API. Remote calls are typed from the user's own functions and
// classes: a wrong argument type, a wrong result type or an unknown method fails tsc.
import type { ObjectRef } from "./core/object-ref.js";

export type SchedulingStrategy = "DEFAULT" | "SPREAD" | { nodeId: string; soft?: boolean };

export interface RuntimeEnv {
  /** Directory the job's workers run in: used in place on this machine, packed and shipped to others. init() only. */
  workingDir?: string;
  /** Names or relative paths under workingDir not to ship (".git" is never shipped). init() only. */
  excludes?: string[];
  /**
   * Environment variables of the worker processes: init()'s in all the job's workers; a task's or
   * actor's own (options()) on top of those, in workers started with them that run nothing else.
   * Not HELIOS_* or NODE_OPTIONS; at most 256, each value at most 32 KiB.
   */
  envVars?: Record<string, string>;
}

export interface ResourceOptions {
  numCpus?: number;
  numGpus?: number;
  /** Bytes of memory to reserve on the node. */
  memory?: number;
  resources?: Record<string, number>;
  schedulingStrategy?: SchedulingStrategy;
  runtimeEnv?: RuntimeEnv;
}

export interface TaskOptions extends ResourceOptions {
  /** A name for logs and errors; defaults to the function's name. */
  name?: string;
  numReturns?: number;
  maxRetries?: number;
  retryExceptions?: boolean | string[];
}

export interface ActorOptions extends ResourceOptions {
  name?: string;
  namespace?: string;
  lifetime?: "detached" | "non_detached";
  getIfExists?: boolean;
  maxRestarts?: number;
  maxTaskRetries?: number;
  maxConcurrency?: number;
  /** Calls one process may have submitted to the actor and not had answered; past it .remote() throws PendingCallsLimitExceededError (-1: no limit, the default). */
  maxPendingCalls?: number;
}

export interface CallOptions {
  numReturns?: number;
  name?: string;
}

export interface InitOptions {
  /** HOST:PORT of a running head; without it a local cluster is started for this script. */
  address?: string;
  /** The cluster's token. Prefer tokenFile (or HELIOS_TOKEN_FILE), which keeps it out of the code. */
  token?: string;
  /** A file holding the cluster's token, readable only by its owner (mode 0600); HELIOS_TOKEN_FILE too. */
  tokenFile?: string;
  /** numCpus, numGpus, resources, prestartWorkers, objectStoreMemory and spillDir describe the local
   *  cluster init() starts: with an address (or HELIOS_ADDRESS) they are refused. */
  numCpus?: number;
  numGpus?: number;
  resources?: Record<string, number>;
  namespace?: string;
  runtimeEnv?: RuntimeEnv;
  /** Workers to start ahead of the first task (default: numCpus). */
  prestartWorkers?: number;
  /** Bytes of objects the local node keeps in memory before the oldest spill to disk (default: 30% of RAM). */
  objectStoreMemory?: number;
  /** Where objects spill to (default: the temp dir). */
  spillDir?: string;
}

export type MaybeRef<T> = T | ObjectRef<T>;
export type MaybeRefs<A extends readonly unknown[]> = { [K in keyof A]: MaybeRef<A[K]> };
type Fn = (...args: any[]) => any;
type Element<T> = T extends readonly (infer E)[] ? E : unknown;
/** Rejects keys of O that T does not know (a generic parameter skips excess-property checks). */
type NoExtraKeys<O, T> = { [K in Exclude<keyof O, keyof T>]: never };
type IsSingle<O> = O extends { numReturns: infer N } ? (N extends 1 ? true : number extends N ? true : false) : true;

export interface RemoteFunction<F extends Fn> {
  /** Submit a call; returns at once with a ref to the result. */
  remote(...args: MaybeRefs<Parameters<F>>): ObjectRef<Awaited<ReturnType<F>>>;
  options<const O extends TaskOptions>(options: O & NoExtraKeys<O, TaskOptions>): IsSingle<O> extends true ? RemoteFunction<F> : MultiReturnFunction<F>;
}

export interface MultiReturnFunction<F extends Fn> {
  remote(...args: MaybeRefs<Parameters<F>>): ObjectRef<Element<Awaited<ReturnType<F>>>>[];
  options<const O extends TaskOptions>(options: O & NoExtraKeys<O, TaskOptions>): IsSingle<O> extends true ? RemoteFunction<F> : MultiReturnFunction<F>;
}

export interface ActorMethod<F extends Fn> {
  remote(...args: MaybeRefs<Parameters<F>>): ObjectRef<Awaited<ReturnType<F>>>;
  options(options: CallOptions): ActorMethod<F>;
}

type MethodKeys<T> = { [K in keyof T]: T[K] extends Fn ? K : never }[keyof T];
export type ActorHandle<C> = { readonly [K in MethodKeys<C>]: C[K] extends Fn ? ActorMethod<C[K]> : never } & {
  readonly actorId: string;
};

export interface ActorClass<C extends abstract new (...args: any) => any> {
  /** Create the actor; returns its handle at once. */
  remote(...args: MaybeRefs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>>;
  options(options: ActorOptions): ActorClass<C>;
}
