// Message shapes shared by both ends of every channel (wire and gRPC control plane).
import type { ActorId, JobId, LeaseId, NodeId, ObjectId, TaskId, WorkerId } from "./ids.js";
import type { CodeDescriptor } from "./code/descriptor.js";
import type { ErrorInfo } from "./errors.js";

export type Resources = Record<string, number>;

/** A value as it travels: inline serialized bytes, or stored in a node's object store
 *  (`at`: that node agent's transfer endpoint, where other nodes pull it from). */
export type WireValue = { v: Uint8Array } | StoredValue;
export interface StoredValue { s: number; id: ObjectId; node: NodeId; at: string }

export interface ActorCallInfo { actorId: ActorId; method: string; callerId: string; seq: number }

export interface TaskSpec {
  taskId: TaskId;
  name: string;
  jobId: JobId;
  fnId: string;
  /** Sent the first time a function travels on a connection. */
  fn?: CodeDescriptor;
  args: WireValue[];
  numReturns: number;
  owner: string;
  actor?: ActorCallInfo;
}

export interface TaskReply { returns?: WireValue[]; error?: ErrorInfo }

export interface JobInfo {
  jobId: JobId;
  namespace: string;
  driverAddress: string;
  cwd: string;
  execArgv: string[];
  /** runtimeEnv.workingDir on the driver's machine (absolute), and its package hash. */
  workingDir?: string;
  package?: string;
  /** init({ runtimeEnv: { envVars } }): set in every worker process of the job. */
  envVars?: EnvVars;
}

/** Environment variables a task, an actor or a job asks for in its worker processes (runtimeEnv.envVars). */
export type EnvVars = Record<string, string>;

export type Strategy = "DEFAULT" | "SPREAD" | { nodeId: string; soft?: boolean };
export interface LeaseRequest {
  jobId: JobId;
  resources: Resources;
  owner: string;
  strategy?: Strategy;
  /** The task's own runtimeEnv.envVars (on top of its job's): only a worker started with them runs it. */
  envVars?: EnvVars;
  /** Set when another agent sent the owner here: grant or queue locally, never spill again. */
  spilled?: boolean;
}
export interface LeaseGrant { leaseId: LeaseId; workerId: WorkerId; address: string; nodeId: NodeId }
/** The agent's answer: a lease, or the agent of another node to ask instead. */
export type LeaseReply = LeaseGrant | { spillback: string; nodeId: NodeId };

export interface ActorCreateRequest {
  actorId: ActorId;
  jobId: JobId;
  className: string;
  methods: string[];
  name?: string;
  namespace: string;
  getIfExists?: boolean;
  detached: boolean;
  resources: Resources;
  strategy?: Strategy;
  maxConcurrency: number;
  /** Times the actor is started again after its worker or node dies (-1: forever). */
  maxRestarts: number;
  maxTaskRetries: number;
  /** CPUs a node must have free to place it: numCpus when given (0 places it on a busy node), else 1. */
  placementCpus?: number;
  /** Calls one process may have submitted and not answered before the next throws (-1 or unset: no limit). */
  maxPendingCalls?: number;
  /** The actor's own runtimeEnv.envVars (on top of its job's), set in its worker process. */
  envVars?: EnvVars;
  spec: TaskSpec;
  /** The process that created the actor: unless detached, the actor dies with it. */
  owner?: ActorOwner;
}

/** An actor's owner: a driver (gone when its job ends) or a worker (gone when its process exits or its node dies). */
export interface ActorOwner {
  workerId: WorkerId;
  jobId: JobId;
  /** The owner's node; unset for a driver on a machine without an agent. */
  nodeId?: NodeId;
  driver: boolean;
}

export type ActorState = "PENDING" | "ALIVE" | "RESTARTING" | "DEAD";
export interface ActorInfo {
  actorId: ActorId;
  className: string;
  methods: string[];
  name?: string;
  namespace: string;
  state: ActorState;
  address?: string;
  workerId?: WorkerId;
  nodeId?: NodeId;
  death?: ErrorInfo;
  numRestarts?: number;
  maxTaskRetries?: number;
  maxPendingCalls?: number;
}

export interface NodeInfo {
  nodeId: NodeId;
  agentAddress: string;
  /** The agent's wire endpoint for object transfer. */
  transferAddress: string;
  resources: Resources;
  available: Resources;
  labels: Record<string, string>;
  state: "ALIVE" | "DEAD";
  storeDir: string;
}

/** An agent joining (or, after a head restart, joining again with the same node id). */
export interface NodeRegistration extends Omit<NodeInfo, "state"> {
  /** On re-registration: the actors this node's workers host, so the head can reconcile its directory. */
  actors?: Array<{ actorId: ActorId; workerId: WorkerId }>;
}
/** `reregister`: the head was restarted and loaded this node from its storage; register again. */
export interface HeartbeatReply { ok: boolean; reregister?: boolean }

/** What a worker process learns from its environment (set by the agent). */
export interface WorkerEnv {
  workerId: WorkerId;
  nodeId: NodeId;
  jobId: JobId;
  namespace: string;
  token: string;
  headAddress: string;
  agentAddress: string;
  transferAddress: string;
  storeDir: string;
  /** Address the worker's endpoint binds to (the node's address). */
  host: string;
  /** When the job's working dir was shipped: its path on the driver's machine (the worker runs in the copy). */
  driverWorkingDir?: string;
}

/** A change of a node's state, numbered: `watchNodes` answers the events after `since`. */
export interface NodeEvent { seq: number; nodeId: NodeId; state: "ALIVE" | "DEAD" }

/** What the head's storage held when it started (head/store.ts LoadReport): records skipped as corrupt. */
export interface HeadStorageReport {
  storage: string;
  records: number;
  skipped: Array<{ offset: number; bytes: number; reason: string }>;
  /** The log as it was, copied aside when records were skipped. */
  savedAs?: string;
  torn?: { offset: number; bytes: number };
}

/** A node's object store: capacity, use and what was spilled (node-agent/store-monitor.ts). */
export interface ObjectStoreStats { capacity: number; usedBytes: number; objects: number; spillDir: string; spilledObjects: number; spilledBytes: number }

/** The head asks an agent to construct an actor in a worker of its own (idempotent per actor). */
export interface StartActorRequest { actorId: ActorId; jobId: JobId; spec: TaskSpec; resources: Resources; placement: Resources; maxConcurrency: number; envVars?: EnvVars }
/** The constructor threw, or its worker died as it started: `error`; else where the actor now runs. */
export type StartActorReply = { error: ErrorInfo } | { address: string; workerId: WorkerId; pid: number };

/** A worker as `info` lists it. */
export interface AgentWorkerInfo {
  workerId: WorkerId; pid: number; state: string; jobId: JobId; actorId?: ActorId; address?: string; leaseId?: LeaseId; leaseOwner?: string;
}
/** An agent's own view of its node (`helios status`, tests). */
export interface AgentInfo {
  nodeId: NodeId; total: Resources; available: Resources; transfer: { servedBytes: number; pulledBytes: number; pulls: number };
  workers: AgentWorkerInfo[]; transferAddress: string; store?: ObjectStoreStats;
}

/** An object's owner answers where its value is (inline or stored), or why there is none. */
export type ObjectOutcome = { value: WireValue } | { error: ErrorInfo };
