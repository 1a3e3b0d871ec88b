// Message shapes shared by both ends of every channel (wire and gRPC control plane).
import type { ActorId, JobId, LeaseId, NodeId, ObjectId, TaskId, WorkerId } from "./ids.js";
import type { CodeDescriptor } from "./code/descriptor.js";
import type { ErrorInfo } from "./errors.js";

export type Resources = Record<string, number>;

/** A value as it travels: inline serialized bytes, or stored in the node's object store. */
export type WireValue = { v: Uint8Array } | { s: number; id: ObjectId; node: NodeId };

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
}

export interface LeaseRequest { jobId: JobId; resources: Resources; owner: string }
export interface LeaseGrant { leaseId: LeaseId; workerId: WorkerId; address: string; nodeId: NodeId }

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
  maxConcurrency: number;
  spec: TaskSpec;
}

export type ActorState = "PENDING" | "ALIVE" | "DEAD";
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
}

export interface NodeInfo {
  nodeId: NodeId;
  agentAddress: string;
  resources: Resources;
  available?: Resources;
  state: "ALIVE" | "DEAD";
  storeDir: string;
}

/** What a worker process learns from its environment (set by the agent). */
export interface WorkerEnv {
  workerId: WorkerId;
  nodeId: NodeId;
  jobId: JobId;
  namespace: string;
  token: string;
  headAddress: string;
  agentAddress: string;
  storeDir: string;
}
