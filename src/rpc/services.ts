// The control plane's two services, method by method: what each request carries and what its
// reply is. RpcClient<"Head"> and RpcClient<"NodeAgent"> (grpc.ts) take these maps, so a call
// to a misspelled method or with a wrong body does not compile, and its reply needs no cast;
// the daemons' handler maps (head/head.ts, node-agent/agent.ts) are checked against them too,
// and their request schemas (head/requests.ts, node-agent/requests.ts) must produce these
// request types. To add a method: declare it here, then its schema and its handler.
import type { ActorId, JobId, LeaseId, NodeId, ObjectId, WorkerId } from "../ids.js";
import type { ErrorInfo } from "../errors.js";
import type {
  ActorCreateRequest, ActorInfo, AgentInfo, HeadStorageReport, HeartbeatReply, JobInfo, LeaseReply, LeaseRequest, NodeEvent,
  NodeInfo, NodeRegistration, Resources, StartActorReply, StartActorRequest, Strategy,
} from "../protocol.js";

/** A method: what the caller sends, what the handler answers. */
export interface Rpc<Req, Reply> { request: Req; reply: Reply }
/** The body of a method that takes nothing. */
export type NoBody = Record<string, never>;
type Done = Record<string, never>;

export interface HeadService {
  // code packages (head/packages.ts)
  hasPackage: Rpc<{ hash: string }, { has: boolean }>;
  putPackageChunk: Rpc<{ hash: string; offset: number; bytes: Uint8Array; last: boolean }, Done>;
  getPackageChunk: Rpc<{ hash: string; offset: number; length: number }, { bytes: Uint8Array; size: number }>;
  // the key-value table (head/kv.ts)
  kvPut: Rpc<{ namespace: string; key: string; value: Uint8Array; overwrite?: boolean }, { added: boolean }>;
  kvGet: Rpc<{ namespace: string; key: string }, { value: Uint8Array | null }>;
  kvDelete: Rpc<{ namespace: string; key: string; prefix?: boolean }, { deleted: number }>;
  kvKeys: Rpc<{ namespace: string; prefix?: string }, string[]>;
  // membership
  registerNode: Rpc<NodeRegistration, { ok: boolean }>;
  heartbeat: Rpc<{ nodeId: NodeId; available: Resources }, HeartbeatReply>;
  watchNodes: Rpc<{ since: number; waitMs?: number }, NodeEvent[]>;
  placeLease: Rpc<{ resources: Resources; strategy?: Strategy; local?: NodeId; localAvailable?: Resources }, { nodeId: NodeId; agentAddress: string }>;
  listNodes: Rpc<NoBody, NodeInfo[]>;
  headInfo: Rpc<NoBody, HeadStorageReport>;
  // jobs
  registerJob: Rpc<JobInfo, Done>;
  getJob: Rpc<{ jobId: JobId }, JobInfo | null>;
  // actors
  createActor: Rpc<ActorCreateRequest, ActorInfo>;
  waitActor: Rpc<{ actorId: ActorId }, ActorInfo>;
  /** A caller lost its connection to the actor: its state once the head heard of it too (briefly waited for). */
  waitActorSettled: Rpc<{ actorId: ActorId }, ActorInfo | null>;
  getActor: Rpc<{ actorId: ActorId }, ActorInfo | null>;
  getNamedActor: Rpc<{ name: string; namespace: string }, ActorInfo | null>;
  killActor: Rpc<{ actorId: ActorId }, Done>;
  workerDied: Rpc<{ workerId: WorkerId; nodeId: NodeId; actorId?: ActorId; death: ErrorInfo }, Done>;
  listActors: Rpc<NoBody, ActorInfo[]>;
}

export interface NodeAgentService {
  registerDriver: Rpc<JobInfo, { nodeId: NodeId }>;
  requestLease: Rpc<LeaseRequest, LeaseReply>;
  fetchObject: Rpc<{ id: ObjectId; from: string }, Done>;
  returnLease: Rpc<{ leaseId: LeaseId; failed?: boolean }, Done>;
  startActor: Rpc<StartActorRequest, StartActorReply>;
  killWorker: Rpc<{ workerId: WorkerId; reason?: string }, { killed: boolean }>;
  /** Why a worker died, when the agent knows (killed out of memory, an uncaught exception); the field keeps the name `oom`. */
  workerFate: Rpc<{ workerId: WorkerId }, { oom?: ErrorInfo }>;
  workerBlocked: Rpc<{ workerId: WorkerId }, Done>;
  workerUnblocked: Rpc<{ workerId: WorkerId }, Done>;
  jobEnded: Rpc<{ jobId: JobId }, Done>;
  info: Rpc<NoBody, AgentInfo>;
}

/** Each service by the name it has on the wire (proto/helios.proto's `helios.<name>`). */
export interface Services { Head: HeadService; NodeAgent: NodeAgentService }
export type ServiceName = keyof Services;
export type Method<N extends ServiceName> = keyof Services[N] & string;
export type RequestOf<N extends ServiceName, M extends Method<N>> = Services[N][M] extends Rpc<infer Req, unknown> ? Req : never;
export type ReplyOf<N extends ServiceName, M extends Method<N>> = Services[N][M] extends Rpc<unknown, infer Reply> ? Reply : never;

/** `cancelled()` turns true when the caller went away (cancelled, or its process exited). */
export interface CallContext { cancelled(): boolean }

/** A service's handler map: one handler per method, taking its request and answering its reply. */
export type Handlers<N extends ServiceName> = {
  [M in Method<N>]: (body: RequestOf<N, M>, ctx: CallContext) => ReplyOf<N, M> | Promise<ReplyOf<N, M>>;
};

/** A call's arguments: the body may be left out when the method takes nothing. */
export type CallArgs<N extends ServiceName, M extends Method<N>> = NoBody extends RequestOf<N, M>
  ? [body?: RequestOf<N, M>, timeoutMs?: number]
  : [body: RequestOf<N, M>, timeoutMs?: number];
