// The body of every NodeAgent method, checked before its handler runs (NodeAgent.handlers wraps
// them with validated()): a wrong-typed body is answered with InvalidRequestError and never reaches
// the agent's accounting. Keys a schema does not declare are dropped.
import { boolean, nothing, number, object, optional } from "../src/rpc/schema.js";
import { envVars, id, jobInfo, name, resources, strategy, taskSpec } from "../src/protocol-schema.js";
import type { ActorId, JobId, LeaseId, ObjectId, WorkerId } from "../src/ids.js";

const worker = object({ workerId: id<WorkerId>() });

export const agentRequests = {
  registerDriver: jobInfo,
  requestLease: object({ jobId: id<JobId>(), resources, owner: name(), strategy: optional(strategy), envVars: optional(envVars),
    spilled: optional(boolean()) }),
  fetchObject: object({ id: id<ObjectId>(), from: name() }),
  returnLease: object({ leaseId: id<LeaseId>(), failed: optional(boolean()) }),
  startActor: object({ actorId: id<ActorId>(), jobId: id<JobId>(), spec: taskSpec, resources, placement: resources,
    maxConcurrency: number({ integer: true, min: 1 }), envVars: optional(envVars) }),
  killWorker: object({ workerId: id<WorkerId>(), reason: optional(name()) }),
  workerFate: worker,
  workerBlocked: worker,
  workerUnblocked: worker,
  jobEnded: object({ jobId: id<JobId>() }),
  info: nothing,
};
