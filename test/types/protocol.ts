// Type test for the typed protocol (src/rpc/services.ts, src/rpc/messages.ts, src/errors.ts):
// compiled with `tsc -p test/types/tsconfig.json` against the built declarations, never run.
// Valid uses compile; each `// @ts-expect-error` line must be an error.
import type { HeadClient, AgentClient } from "../../dist/src/rpc/grpc.js";
import { isStatus } from "../../dist/src/rpc/grpc.js";
import type { Handlers } from "../../dist/src/rpc/services.js";
import type { Connection } from "../../dist/src/rpc/wire.js";
import type { IncomingMessage } from "../../dist/src/rpc/messages.js";
import { errorInfo, type ErrorInfo } from "../../dist/src/errors.js";
import type { ActorInfo, JobInfo, LeaseReply } from "../../dist/src/protocol.js";
import type { ActorId, JobId, WorkerId } from "../../dist/src/ids.js";

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true : false;
function assertType<T extends true>(): T | void {}

export async function clients(head: HeadClient, agent: AgentClient, jobId: JobId, actorId: ActorId, workerId: WorkerId): Promise<void> {
  // ---- valid calls: replies are typed without a cast ----
  const job = await head.call("getJob", { jobId });
  assertType<Equal<typeof job, JobInfo | null>>();
  const actor = await head.call("waitActor", { actorId }, 5000);
  assertType<Equal<typeof actor, ActorInfo>>();
  const nodes = await head.call("listNodes");   // a method that takes nothing may leave its body out
  nodes.map((n) => n.agentAddress);
  const lease = await agent.call("requestLease", { jobId, resources: { CPU: 1 }, owner: "127.0.0.1:1" });
  assertType<Equal<typeof lease, LeaseReply>>();
  const { killed } = await agent.call("killWorker", { workerId, reason: "test" });
  assertType<Equal<typeof killed, boolean>>();

  // ---- a misspelled method, a wrong body, a method of the other service ----
  // @ts-expect-error: no such method
  await head.call("getJbo", { jobId });
  // @ts-expect-error: the body misses jobId
  await head.call("getJob", {});
  // @ts-expect-error: the body's field has the wrong type
  await head.call("getJob", { jobId: 42 });
  // @ts-expect-error: a method that needs a body
  await head.call("createActor");
  // @ts-expect-error: killWorker is the agent's, not the head's
  await head.call("killWorker", { workerId });
  // @ts-expect-error: a reply has no fields the service does not declare
  (await agent.call("workerFate", { workerId })).cause;
}

// ---- a handler map is checked against its service ----
declare const agentHandlers: Handlers<"NodeAgent">;
export const headHandlers: Partial<Handlers<"Head">> = {
  getJob: (r) => { const id: JobId = r.jobId; return id ? null : null; },
  // @ts-expect-error: a reply of the wrong shape
  hasPackage: () => ({ has: "yes" }),
};
export const misnamed: Partial<Handlers<"Head">> = {
  // @ts-expect-error: a method the Head service does not have
  getJbo: () => null,
};
export const fate = agentHandlers.workerFate;

// ---- wire messages: a discriminated union, requests typed with their replies ----
export async function wire(conn: Connection, msg: IncomingMessage): Promise<void> {
  const stat = await conn.request({ t: "stat", id: "o1" as never });
  assertType<Equal<typeof stat, { size: number }>>();
  const cancelled = await conn.request({ t: "cancel", taskId: "t1" as never });
  assertType<Equal<typeof cancelled, boolean>>();
  conn.send({ t: "free", id: "o1" as never });
  // @ts-expect-error: no such message type
  conn.send({ t: "fre", id: "o1" as never });
  // @ts-expect-error: a read needs offset and length
  await conn.request({ t: "read", id: "o1" as never });
  // @ts-expect-error: a notice is not a request (it has no reply)
  await conn.request({ t: "logs", lines: [] });
  if (msg.t === "getObject") { const owner: WorkerId | undefined = msg.owner; void owner; }
}

// ---- errors: names from the table, and gRPC statuses by name ----
export const known: ErrorInfo = { name: "OwnerDiedError", message: "gone" };
// @ts-expect-error: a misspelled error name
export const misspelled: ErrorInfo = { name: "OwnerDiedErorr", message: "gone" };
export const built = errorInfo("NodeDiedError", "node n1 died");
// @ts-expect-error: errorInfo() takes known names only
errorInfo("NodeDied", "node n1 died");
export const unavailable = (e: unknown) => isStatus(e, "UNAVAILABLE", "DEADLINE_EXCEEDED");
// @ts-expect-error: a status by number, or a name gRPC does not have
isStatus(new Error(), "UNAVAILABLE_NOW");
