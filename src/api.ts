// The public API of DESIGN.md. In a driver, init() starts (or joins) a cluster; in a
// worker the same functions use the worker's runtime, so tasks can submit tasks.
import * as os from "node:os";
import { Runtime } from "./core/runtime.js";
import { headClient } from "./core/core-worker.js";
import { ObjectRef, isObjectRef } from "./core/object-ref.js";
import { actorRecord } from "./core/actor-handle.js";
import type { LocalCluster } from "./cluster/local.js";
import { IllegalStateError, InvalidArgumentError } from "./errors.js";
import { swapCodec } from "./serialization.js";
import { newJobId, newWorkerId, type JobId, type NodeId } from "./ids.js";
import type { JobInfo, NodeInfo } from "./protocol.js";
import { RpcClient, preloadGrpc, type HeadClient } from "./rpc/grpc.js";
import { preloadAnalysis } from "./code/free-vars.js";
import { WireServer, listenInRange, splitAddress } from "./rpc/wire.js";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import type { InitOptions } from "./types.js";
import { checkInitOptions, checkName, checkToken } from "./options.js";
import { readTokenFile as readTokenFileAt } from "./token.js";
import { checkSettings, setting } from "./config.js";

interface State { runtime: Runtime; cluster?: LocalCluster; stopping?: Promise<void> }
const key = Symbol.for("helios.runtime");
const g = globalThis as unknown as { [key]: State | undefined };

/** Used by the worker entry point: the worker's runtime serves the API inside tasks. */
export function setRuntime(runtime: Runtime): void { begin({ runtime }); }
/** The process's session: its runtime, whose codec reads refs and handles in values packed outside it (kv, bound arguments). */
function begin(state: State): void {
  g[key] = state;
  swapCodec(state.runtime.core.codec);
}

export function runtime(): Runtime {
  const s = g[key];
  if (!s) throw new IllegalStateError("Helios is not initialized: call await init() first.");
  return s.runtime;
}

export const isInitialized = (): boolean => g[key] !== undefined;

/** Start a local cluster for this script, or join one: `await init()` / `await init({ address })`. */
export async function init(options: InitOptions = {}): Promise<void> {
  if (g[key]) {
    if (g[key]!.runtime.core.config.mode === "worker") return;
    throw new IllegalStateError("init() was already called; call shutdown() first to start again.");
  }
  checkInitOptions(options);
  if (options.token !== undefined && options.tokenFile !== undefined) {
    throw new InvalidArgumentError("init(): pass token or tokenFile, not both. Tip: prefer tokenFile (or HELIOS_TOKEN_FILE): it keeps the token out of your code.");
  }
  checkSettings("driver");   // a bad HELIOS_* value fails here, named, not in some later call
  const address = options.address ?? setting("HELIOS_ADDRESS");
  if (address) {
    refuseLocalOptions(options, options.address ? "address" : "HELIOS_ADDRESS");
    return join(address, options);
  }
  checkSettings(["head", "agent"], { plumbing: false });   // the embedded cluster's daemons inherit this environment
  const numCpus = options.numCpus ?? os.availableParallelism();
  const given = options.token ?? (options.tokenFile !== undefined ? readTokenFileAt(options.tokenFile, "init()") : undefined);
  // Workers import this module too: what only a driver's init() needs is loaded here, on demand.
  const [{ randomBytes }, { startLocalCluster }] = await Promise.all([import("node:crypto"), import("./cluster/local.js")]);
  const token = given ?? randomBytes(24).toString("base64url");
  const resources: Record<string, number> = { CPU: numCpus, ...options.resources };
  if (options.numGpus) resources.GPU = options.numGpus;
  const jobId = newJobId();
  const namespace = options.namespace ?? `anonymous-${jobId}`;
  const workingDir = options.runtimeEnv?.workingDir ? path.resolve(options.runtimeEnv.workingDir) : undefined;
  const { objectStoreMemory, spillDir } = options;
  if (objectStoreMemory !== undefined && !(Number.isInteger(objectStoreMemory) && objectStoreMemory >= 0)) {
    throw new RangeError(`init(): objectStoreMemory must be a whole number of bytes ≥ 0, got ${objectStoreMemory}`);
  }
  if (spillDir !== undefined && typeof spillDir !== "string") throw new TypeError(`init(): spillDir must be a directory path, got ${typeof spillDir}`);
  checkWorkingDir(workingDir);
  // The driver listens before its cluster starts: the head and agent know the job, and where its
  // driver is, from their first moment, and init() waits for no registration.
  const server = new WireServer(token);
  const range = setting("HELIOS_DRIVER_PORTS");
  const driverAddress = range ? await listenInRange(server, "127.0.0.1", range) : await server.listen("127.0.0.1", 0);
  const job: JobInfo = { jobId, namespace, driverAddress, cwd: workingDir ?? process.cwd(), execArgv: process.execArgv, workingDir,
    envVars: options.runtimeEnv?.envVars };
  let cluster: LocalCluster;
  // The head serves before the agent does: connect to it meanwhile. A process's first gRPC call
  // costs ~40 ms of CPU (grpc-js and http2 compiling their code), which would otherwise come
  // after init(), in the first task's lease request.
  let head: HeadClient | undefined;
  const onHead = (address: string) => { head = headClient(address, token); head.call("getJob", { jobId }).catch(() => {}); };
  try {
    const starting = startLocalCluster({ token, resources, prestart: options.prestartWorkers, objectStoreMemory, spillDir, job, onHead });
    preloadGrpc();
    setImmediate(preloadAnalysis);
    cluster = await starting;
  } catch (e) {
    server.close();
    head?.close();
    throw e;
  }
  const rt = new Runtime({ mode: "driver", workerId: newWorkerId(), nodeId: cluster.nodeId as NodeId, jobId: jobId as JobId,
    namespace, token, headAddress: cluster.headAddress, agentAddress: cluster.agentAddress,
    transferAddress: cluster.transferAddress, storeDir: cluster.storeDir, host: "127.0.0.1" }, { server, head });
  try {
    await rt.start();
  } catch (e) {
    rt.core.close();
    await cluster.stop();
    throw e;
  }
  begin({ runtime: rt, cluster });
  installExitHooks();
}

/** A driver joining a running cluster: its job goes to the head (with its shipped project) and the local agent. */
async function startJob(rt: Runtime, options: InitOptions, localAgent: boolean): Promise<void> {
  await rt.start();
  const c = rt.core.config;
  const env = options.runtimeEnv ?? {};
  const workingDir = env.workingDir ? path.resolve(env.workingDir) : undefined;
  checkWorkingDir(workingDir);
  const job: JobInfo = { jobId: c.jobId, namespace: c.namespace, driverAddress: rt.core.address,
    cwd: workingDir ?? process.cwd(), execArgv: process.execArgv, workingDir, envVars: env.envVars };
  if (workingDir) {
    const { packDir, uploadPackage } = await import("./cluster/package.js");
    const packed = await packDir(workingDir, env.excludes);
    await uploadPackage(rt.core.head, packed);
    job.package = packed.hash;
  }
  // The head watches the driver from now on (its pings): when it stops answering, the job's actors die with it.
  // Independent: the agent learns the job from the driver, not from the head.
  await Promise.all([rt.core.head.call("registerJob", job), localAgent && rt.core.agent.call("registerDriver", job)]);
}

/** Options that describe the cluster init() starts on this machine: a cluster being joined has nodes with their own. */
const LOCAL_CLUSTER_OPTIONS: Record<string, string> = { numCpus: "--num-cpus", numGpus: "--num-gpus", resources: "--resources",
  prestartWorkers: "", objectStoreMemory: "--object-store-memory", spillDir: "--spill-dir" };

function refuseLocalOptions(options: InitOptions, via: string): void {
  const given = Object.keys(LOCAL_CLUSTER_OPTIONS).filter((k) => (options as Record<string, unknown>)[k] !== undefined);
  if (!given.length) return;
  const flags = given.map((k) => LOCAL_CLUSTER_OPTIONS[k]).filter(Boolean);
  throw new InvalidArgumentError(`init(): ${given.join(", ")} ${given.length > 1 ? "describe" : "describes"} the cluster init() starts on this machine, ` +
    `but ${via} is set: init() joins a running cluster, whose nodes have their own. Tip: leave ${given.join(", ")} out` +
    `${flags.length ? `, and give a node its own with helios start ${flags.map((f) => `${f} …`).join(" ")}` : ""}.`);
}

function checkWorkingDir(dir: string | undefined): void {
  if (dir && !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new TypeError(`runtimeEnv.workingDir ${dir} is not a directory`);
}

/** Join a running cluster: lease from this machine's agent when it has one, else from any node. */
async function join(address: string, options: InitOptions): Promise<void> {
  const token = clusterToken(options);
  const head = new RpcClient(address, "Head", token);
  let nodes: NodeInfo[];
  try { nodes = await head.call("listNodes", {}, 10_000); } finally { head.close(); }
  const alive = nodes.filter((n) => n.state === "ALIVE");
  if (!alive.length) throw new IllegalStateError(`the cluster at ${address} has no live node. Tip: start one with helios start --address ${address}.`);
  const mine = new Set(Object.values(os.networkInterfaces()).flat().map((i) => i!.address));
  const local = alive.find((n) => mine.has(splitAddress(n.agentAddress)[0]));
  const home = local ?? alive[0];
  const jobId = newJobId();
  const rt = new Runtime({ mode: "driver", workerId: newWorkerId(), nodeId: home.nodeId, jobId,
    namespace: options.namespace ?? `anonymous-${jobId}`, token, headAddress: address, agentAddress: home.agentAddress,
    transferAddress: local?.transferAddress, storeDir: home.storeDir, host: await localAddressTowards(address) });
  try { await startJob(rt, options, !!local); } catch (e) { rt.core.close(); throw e; }
  begin({ runtime: rt });
  installExitHooks();
}

/** The token of a cluster to join: init()'s token or tokenFile, else HELIOS_TOKEN or HELIOS_TOKEN_FILE, else $HELIOS_HOME/token. */
function clusterToken(options: InitOptions): string {
  if (options.token !== undefined) return options.token;
  if (options.tokenFile !== undefined) return readTokenFileAt(options.tokenFile, "init()");
  const token = setting("HELIOS_TOKEN");
  if (token !== undefined) return checkToken(token, "init() (HELIOS_TOKEN)");
  const tokenFile = setting("HELIOS_TOKEN_FILE");
  if (tokenFile) return readTokenFileAt(tokenFile, "init() (HELIOS_TOKEN_FILE)");
  const file = path.join(setting("HELIOS_HOME"), "token");
  if (!fs.existsSync(file)) {
    throw new IllegalStateError(`no cluster token: pass init({ tokenFile }), set HELIOS_TOKEN_FILE or HELIOS_TOKEN, or run on a machine where \`helios start\` stored ${file}.`);
  }
  return readTokenFileAt(file, "init()");
}

/** The local address this machine uses to reach `address` (what other hosts can connect back to). */
function localAddressTowards(address: string): Promise<string> {
  const [host, port] = splitAddress(address);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => { const a = s.localAddress!; s.destroy(); resolve(a.replace(/^::ffff:/, "")); });
    s.on("error", reject);
  });
}

function installExitHooks(): void {
  process.once("beforeExit", onBeforeExit);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    if (process.listenerCount(sig) === 0) process.once(sig, () => process.exit(sig === "SIGINT" ? 130 : 143));
  }
}

function onBeforeExit(): void { void shutdown(); }

/** Stop this script's cluster (or leave the one it joined). Safe to call twice. */
export async function shutdown(): Promise<void> {
  const s = g[key];
  if (!s || s.runtime.core.config.mode === "worker") return;
  if (s.stopping) return s.stopping;
  process.off("beforeExit", onBeforeExit);
  s.stopping = (async () => {
    await s.runtime.close();
    await s.cluster?.stop();
    g[key] = undefined;
    swapCodec(undefined);
  })();
  return s.stopping;
}

/** Store a value in the cluster; returns its ref at once. `const ref = put(bigArray)` */
export function put<T>(value: T): ObjectRef<T> {
  return runtime().core.put(value);
}

export interface GetOptions { timeout?: number }

/** The value of a ref, or the values of refs in order: `await get(ref)`, `await get([a, b], { timeout: 5000 })`. */
export async function get<T>(ref: ObjectRef<T>, options?: GetOptions): Promise<T>;
export async function get<T extends readonly ObjectRef<unknown>[] | []>(refs: T, options?: GetOptions): Promise<{ -readonly [K in keyof T]: T[K] extends ObjectRef<infer V> ? V : never }>;
export async function get<T>(refs: ObjectRef<T>[], options?: GetOptions): Promise<T[]>;
export async function get(refs: ObjectRef<unknown> | readonly ObjectRef<unknown>[], options: GetOptions = {}): Promise<unknown> {
  const single = !Array.isArray(refs);
  const list = (single ? [refs] : refs) as ObjectRef<unknown>[];
  list.forEach((r, i) => {
    if (!isObjectRef(r)) throw new TypeError(`get() takes an ObjectRef or an array of ObjectRefs; ${single ? "got" : `item ${i} is`} ${describeValue(r)}. Tip: refs come from f.remote(), actor.method.remote() and put().`);
  });
  const values = await runtime().core.get(list, options.timeout);
  return single ? values[0] : values;
}

export interface WaitOptions { numReturns?: number; timeout?: number }

/**
 * Wait until `numReturns` of the refs are ready (or the timeout passes): `const { ready, pending } = await wait(refs)`.
 * numReturns is 1 by default (0 for an empty list: `wait([])` is two empty lists); each ref may appear once.
 */
export async function wait<T>(refs: ObjectRef<T>[], options: WaitOptions = {}): Promise<{ ready: ObjectRef<T>[]; pending: ObjectRef<T>[] }> {
  if (!Array.isArray(refs)) throw new TypeError(`wait() takes an array of ObjectRefs; got ${describeValue(refs)}`);
  const seen = new Set<string>();
  for (let i = 0; i < refs.length; i++) {
    const r = refs[i];
    if (!isObjectRef(r)) throw new TypeError(`wait() takes an array of ObjectRefs; item ${i} is ${describeValue(r)}. Tip: refs come from f.remote(), actor.method.remote() and put().`);
    if (seen.has(r.id)) {
      throw new InvalidArgumentError(`wait(): item ${i} is ${r.id} again; each ref may appear once (it could not be both ready and pending). Tip: wait([...new Set(refs)]).`);
    }
    seen.add(r.id);
  }
  // As in Ray: one by default, none for an empty list (wait([]) is two empty lists).
  const numReturns = options.numReturns ?? Math.min(1, refs.length);
  if (!Number.isInteger(numReturns) || numReturns < 0 || numReturns > refs.length) {
    throw new RangeError(`wait(): numReturns must be an integer between 0 and refs.length (${refs.length}), got ${numReturns}`);
  }
  return runtime().core.wait(refs, numReturns, options.timeout) as any;
}

/** Cancel the task that produces `ref`: queued tasks are dropped, running ones interrupted. */
export async function cancel(ref: ObjectRef<unknown>): Promise<void> {
  if (!isObjectRef(ref)) throw new TypeError("cancel() takes the ObjectRef returned by f.remote()");
  await runtime().cancel(ref);
}

/** Kill an actor: its pending and later calls raise ActorDiedError. */
export async function kill(handle: object): Promise<void> {
  if (!handle || !actorRecord(handle)) throw new TypeError("kill() takes an actor handle (from Cls.remote() or getActor())");
  await runtime().kill(handle);
}

/** A handle to a named actor: `await getActor("tally", { namespace: "app" })`. */
export async function getActor<T = any>(name: string, options: { namespace?: string } = {}): Promise<T> {
  checkName(name, "name", "getActor()");
  if (options?.namespace !== undefined) checkName(options.namespace, "namespace", "getActor()");
  return runtime().getActor(name, options?.namespace);
}

export interface RuntimeContext { nodeId: string; workerId: string; jobId: string; namespace: string; taskId?: string; actorId?: string }
/** Where the caller runs: node, worker, job, and the current task or actor. */
export function getRuntimeContext(): RuntimeContext { return runtime().context(); }

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return `an object (${(v as object).constructor?.name ?? "Object"}); note that refs are not promises, so do not await them before get()`;
  return `a ${typeof v}`;
}
