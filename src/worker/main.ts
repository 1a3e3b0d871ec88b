// The worker process, started by the node agent (child_process.fork with IPC, through entry.ts).
// The worker exits when the agent goes away (IPC disconnect), so it never outlives it.
import { Runtime } from "../core/runtime.js";
import { Executor } from "../core/executor.js";
import { taskContext } from "../core/task-context.js";
import { setRuntime } from "../api.js";
import { setCodeRole, setShippedWorkingDir } from "../code/descriptor.js";
import type { WorkerEnv } from "../protocol.js";
import type { AgentToWorker, WorkerToAgent } from "../rpc/messages.js";
import { register } from "node:module";
import { checkTaskSpec } from "../core/task-spec-check.js";

process.on("disconnect", () => process.exit(0));
// The agent sends the worker its identity once it has one: a worker may be forked before the
// agent serves, so that its start-up (these imports) overlaps the agent's.
const env = await new Promise<WorkerEnv>((resolve) => {
  const first = (m: AgentToWorker) => { if (m?.t === "env") { process.off("message", first); resolve(m.env); } };
  process.on("message", first);
});
// A shipped project may carry its own node_modules/helios: make it resolve to ours. (Only
// then: the hooks run on a thread of their own, which costs memory and start-up time.)
if (env.driverWorkingDir) register(new URL("./resolve-hooks.js", import.meta.url));
setCodeRole("worker");
setShippedWorkingDir(env.driverWorkingDir);
prefixOutput(`pid=${process.pid} node=${env.nodeId.slice(0, 9)}`);

const rt = new Runtime({ ...env, mode: "worker" }, undefined, { blocked: (blocked) => onBlocked(blocked) });
await rt.start();
setRuntime(rt);
const executor = new Executor(rt.core);

let blockedDepth = 0;
async function onBlocked(blocked: boolean): Promise<void> {
  if (executor.actorId) return;   // actors hold no CPU while running (unless asked), nothing to lend
  if (blocked) executor.requeueWaiting();
  blockedDepth += blocked ? 1 : -1;
  if (blocked ? blockedDepth === 1 : blockedDepth === 0) {
    await rt.core.agent.call(blocked ? "workerBlocked" : "workerUnblocked", { workerId: env.workerId }).catch(() => {});
  }
}

process.on("message", async (m: AgentToWorker) => {
  if (m?.t === "createActor") {
    const error = await executor.createActor(m.spec, m.actorId, m.maxConcurrency);
    process.send!({ t: "actorCreated", actorId: m.actorId, error } satisfies WorkerToAgent);
  }
});
process.on("uncaughtException", onUncaught);
process.on("unhandledRejection", (e) => { console.error("unhandled rejection in worker:", e); });
// The agent takes back a lease whose owner never pushed to it or has gone: report which owners push
// work here over connections that are open, whenever that changes. (Any process may hold a connection
// here, e.g. a previous owner's, which it keeps: only the lease's own owner counts.)
let owners = new Set<string>();
const reportOwners = () => {
  if (executor.actorId) return;
  const now = new Set<string>();
  for (const c of rt.core.server.connections) if (c.state.owner) now.add(c.state.owner);
  const gone = [...owners].filter((o) => !now.has(o));
  if (gone.length || [...now].some((o) => !owners.has(o))) process.send!({ t: "owners", owners: [...now], gone } satisfies WorkerToAgent);
  owners = now;
};
rt.core.serve("push", (msg, conn) => {
  checkTaskSpec(msg.task);   // before its owner is believed and reported to the agent
  if (conn.state.owner !== msg.task.owner) { conn.state.owner = msg.task.owner; reportOwners(); }
  return executor.execute(msg.task);
});
rt.core.serve("cancel", (msg) => executor.cancelQueued(msg.taskId));
rt.core.server.onClose = reportOwners;
process.send!({ t: "ready", address: rt.core.address } satisfies WorkerToAgent);

/** Prefix every output line with the running task's name, the pid and the node. */
function prefixOutput(where: string): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: any, ...rest: any[]) => boolean;
    let atLineStart = true;
    stream.write = ((chunk: any, ...rest: any[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
      const prefix = `(${taskContext.getStore()?.name ?? "worker"} ${where}) `;
      let out = "";
      for (const part of text.split(/(?<=\n)/)) {
        out += (atLineStart ? prefix : "") + part;
        atLineStart = part.endsWith("\n");
      }
      return write(out, ...rest);
    }) as typeof stream.write;
  }
}

/**
 * An exception thrown where no task awaits it (a timer, an event callback) ends the worker, as
 * it would end any Node process; its tasks' owners retry them (maxRetries). Before it exits,
 * the worker tells its agent what was thrown, and the owners' WorkerCrashedError says it.
 */
let exiting = false;
function onUncaught(e: unknown): void {
  console.error("uncaught exception in worker:", e);
  if (exiting) return;
  exiting = true;
  const err = e instanceof Error ? e : new Error(String(e));
  const exit = () => process.exit(1);
  setTimeout(exit, 1000).unref();   // the agent may be gone
  try {
    process.send!({ t: "uncaught", error: { name: err.name, message: err.message, stack: err.stack ?? "" } } satisfies WorkerToAgent, undefined, undefined, exit);
  } catch { exit(); }
}
