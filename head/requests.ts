// The body of every Head method, checked before its handler runs (Head.handlers wraps them with
// validated()): a wrong-typed body is answered with InvalidRequestError, and nothing the head keeps
// in its storage can come from a body that did not fit. Keys a schema does not declare are dropped.
import { array, boolean, bytes, nothing, number, object, objectOf, optional, string } from "../src/rpc/schema.js";
import { actorCreateRequest, available, errorInfo, filePath, id, jobInfo, labels, name, packageHash, resources, strategy } from "../src/protocol-schema.js";
import type { NodeRegistration } from "../src/protocol.js";
import type { ActorId, JobId, NodeId, WorkerId } from "../src/ids.js";

/** Package chunks are sent 4 MiB at a time; a chunk asked for or sent is never more than this. */
const CHUNK_MAX = 64 * 1024 * 1024;
const KV_KEY_MAX = 1024;

const actorRef = object({ actorId: id<ActorId>() });
const kvTarget = { namespace: string({ min: 0, max: KV_KEY_MAX }), key: string({ min: 0, max: KV_KEY_MAX }) };

const nodeRegistration = objectOf<NodeRegistration>()({
  nodeId: id<NodeId>(), agentAddress: name(), transferAddress: name(), resources, available, labels, storeDir: filePath(),
  actors: optional(array(object({ actorId: id<ActorId>(), workerId: id<WorkerId>() }), { max: 100_000 })),
});

export const headRequests = {
  // code packages (head/packages.ts)
  hasPackage: object({ hash: packageHash() }),
  putPackageChunk: object({ hash: packageHash(), offset: number({ integer: true, min: 0, max: 2 ** 40 }), bytes: bytes({ max: CHUNK_MAX }), last: boolean() }),
  getPackageChunk: object({ hash: packageHash(), offset: number({ integer: true, min: 0, max: 2 ** 40 }), length: number({ integer: true, min: 1, max: CHUNK_MAX }) }),
  // the key-value table (head/kv.ts; it also refuses NUL characters and values over 1 MiB, with their own messages)
  kvPut: object({ ...kvTarget, value: bytes(), overwrite: optional(boolean()) }),
  kvGet: object(kvTarget),
  kvDelete: object({ ...kvTarget, prefix: optional(boolean()) }),
  kvKeys: object({ namespace: kvTarget.namespace, prefix: optional(kvTarget.key) }),
  // membership
  registerNode: nodeRegistration,
  heartbeat: object({ nodeId: id<NodeId>(), available }),
  watchNodes: object({ since: number({ integer: true, min: 0 }), waitMs: optional(number({ min: 0 })) }),
  placeLease: object({ resources, strategy: optional(strategy), local: optional(id<NodeId>()), localAvailable: optional(available) }),
  listNodes: nothing,
  headInfo: nothing,
  // jobs
  registerJob: jobInfo,
  getJob: object({ jobId: id<JobId>() }),
  // actors
  createActor: actorCreateRequest,
  waitActor: actorRef,
  waitActorSettled: actorRef,
  getActor: actorRef,
  getNamedActor: object({ name: name(), namespace: name() }),
  killActor: actorRef,
  workerDied: object({ workerId: id<WorkerId>(), nodeId: id<NodeId>(), actorId: optional(id<ActorId>()), death: errorInfo }),
  listActors: nothing,
};
