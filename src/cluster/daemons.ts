// The long-running daemons behind the `helios` command: a head and node agents started in
// the background, recorded in $HELIOS_HOME/daemons.json, inspected by `status`, ended by `stop`.
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { RpcClient } from "../rpc/grpc.js";
import { AuthenticationError } from "../errors.js";
import { daemonEnv } from "./daemon.js";
import type { HeadStorageReport, NodeInfo, Resources } from "../protocol.js";
import { storeEnv } from "./local.js";
import { readTokenFile as readTokenFileAt } from "../token.js";
import { setting } from "../config.js";

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SCRIPTS = { head: path.join(dist, "head/main.js"), agent: path.join(dist, "node-agent/main.js") };
const MARKERS = { head: "head/main.js", agent: "node-agent/main.js" };
const READY_TIMEOUT_MS = 20_000;

/** `host`, `port` and `storage` are what the head was started with: a head started again reuses them. */
export interface HeadRecord { pid: number; address: string; log: string; host?: string; port?: number; storage?: string }
export interface AgentRecord { pid: number; address: string; nodeId: string; log: string; labels?: Record<string, string> }
export interface DaemonsFile { head?: HeadRecord; headAddress?: string; agents: AgentRecord[]; tokenFile: string }

export interface NodeOptions {
  host?: string; numCpus?: number; numGpus?: number; resources?: string; labels?: string;
  /** Fixed ports, for firewalls: the agent's control port, its object-transfer port, and a worker port range "a-b". */
  agentPort?: number; transferPort?: number; workerPorts?: string;
  /** Object store: bytes kept in memory before objects spill to disk, and where they spill. */
  objectStoreMemory?: number; spillDir?: string;
}

export const heliosHome = (): string => setting("HELIOS_HOME");
export const tokenFile = () => path.join(heliosHome(), "token");
const daemonsFile = () => path.join(heliosHome(), "daemons.json");

function ensureHome(): string {
  const home = heliosHome();
  fs.mkdirSync(path.join(home, "logs"), { recursive: true, mode: 0o700 });
  fs.chmodSync(home, 0o700);
  return home;
}

export function readDaemons(): DaemonsFile | undefined {
  try { return JSON.parse(fs.readFileSync(daemonsFile(), "utf8")); } catch { return undefined; }
}
function writeDaemons(d: DaemonsFile): void {
  fs.writeFileSync(daemonsFile(), JSON.stringify(d, null, 2) + "\n", { mode: 0o600 });
}

/** The token in $HELIOS_HOME/token, if there is one; a file others may read is refused (token.ts). */
export function readTokenFile(): string | undefined {
  return fs.existsSync(tokenFile()) ? readTokenFileAt(tokenFile(), "helios") : undefined;
}
function writeTokenFile(token: string): string {
  const file = tokenFile();
  fs.writeFileSync(file, token + "\n", { mode: 0o600 });
  fs.chmodSync(file, 0o600);   // the mode option applies only when the file is created
  return file;
}

/** `--num-cpus`, `--num-gpus` and `--resources '{"widget":3}'` as one resource map. */
export function nodeResources(o: NodeOptions): Resources {
  let extra: unknown = {};
  if (o.resources) {
    try { extra = JSON.parse(o.resources); } catch { throw new Error(`--resources must be a JSON object, e.g. '{"widget":3}' (got ${o.resources})`); }
  }
  if (typeof extra !== "object" || extra === null || Array.isArray(extra)) throw new Error(`--resources must be a JSON object, e.g. '{"widget":3}'`);
  const out: Resources = {};
  for (const [k, v] of Object.entries(extra)) {
    if (typeof v !== "number" || !(v >= 0)) throw new Error(`--resources: '${k}' must be a number ≥ 0 (got ${JSON.stringify(v)})`);
    out[k] = v;
  }
  if (o.numCpus !== undefined) out.CPU = o.numCpus;
  if (o.numGpus !== undefined) out.GPU = o.numGpus;
  return out;
}

/** `--labels zone=a,disk=ssd` as { zone: "a", disk: "ssd" }. */
export function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? "").split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`--labels must look like key=value,key2=value2 (got '${part}')`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Start a daemon in the background, detached from this process, and wait for its JSON line. */
async function launch(kind: "head" | "agent", env: Record<string, string>): Promise<any> {
  const log = path.join(heliosHome(), "logs", `${kind}-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}.log`);
  const fd = fs.openSync(log, "a", 0o600);
  const childEnv = { ...daemonEnv(process.env), ...env };
  delete childEnv.HELIOS_PARENT;   // a daemon must not exit with the CLI
  delete childEnv.HELIOS_JOB;      // nor adopt the job of a driver whose embedded cluster this runs in
  const child = spawn(process.execPath, [SCRIPTS[kind]], { detached: true, stdio: ["ignore", fd, fd], env: childEnv });
  fs.closeSync(fd);
  let exited: string | undefined;
  child.once("exit", (code, signal) => { exited = signal ? `was killed by ${signal}` : `exited with code ${code}`; });
  child.once("error", (e) => { exited = `could not start: ${e.message}`; });
  const name = kind === "head" ? "head" : "node agent";
  const end = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const info = readyLine(log);
    if (info) { child.unref(); return { ...info, pid: child.pid, log }; }
    if (exited) throw new Error(`the ${name} ${exited} before it was ready. Its log (${log}) ends with:\n${tail(log)}`);
    if (Date.now() > end) {
      child.kill("SIGKILL");
      throw new Error(`the ${name} was not ready after ${READY_TIMEOUT_MS / 1000} s. Its log (${log}) ends with:\n${tail(log)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readyLine(log: string): any {
  for (const line of fs.readFileSync(log, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    try { const j = JSON.parse(line); if (j.address) return j; } catch { /* a partial line: read it again later */ }
  }
  return undefined;
}

const tail = (log: string) => fs.readFileSync(log, "utf8").trimEnd().split("\n").slice(-15).map((l) => "  " + l).join("\n") || "  (empty)";

const isWildcard = (host: string) => host === "0.0.0.0" || host === "::" || host === "";
const splitAddress = (a: string) => { const i = a.lastIndexOf(":"); return { host: a.slice(0, i), port: Number(a.slice(i + 1)) }; };

/** The local IP address other machines reach us at: the one the kernel would use towards `target`. */
function routeAddress(target: string): Promise<string> {
  const { host, port } = splitAddress(target);
  if (host === "localhost" || host.startsWith("127.")) return Promise.resolve("127.0.0.1");
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    const done = (a: string) => { s.close(); resolve(a); };
    s.once("error", () => done("127.0.0.1"));
    s.connect(port || 9, host, () => done(s.address().address));
  });
}

function firstExternalIPv4(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

/** Refuse to mix two clusters in one HELIOS_HOME; forget records whose processes are gone. */
function currentRecord(): DaemonsFile | undefined {
  const d = readDaemons();
  if (!d) return undefined;
  const live = [...(d.head ? [{ ...d.head, kind: "head" as const }] : []), ...d.agents.map((a) => ({ ...a, kind: "agent" as const }))]
    .filter((r) => isOurDaemon(r.pid, r.kind));
  return live.length ? d : undefined;
}

export interface HeadStarted {
  address: string; pid: number; tokenFile: string; token: string; storage: string;
  /** The agent started with the head; unset when a restarted head found this machine's agent still running. */
  agent?: AgentRecord;
  /** Set when a head that had died was started again on its storage: what it loaded from there. */
  restarted?: { nodes: number; actors: number; jobs: number; skipped?: number };
}

/** Start a new cluster's head (and an agent beside it), or start again this machine's head that died. */
export async function startHead(o: NodeOptions & { port?: number; token?: string; storage?: string }): Promise<HeadStarted> {
  ensureHome();
  const recorded = readDaemons();
  if (recorded?.head?.storage && !isOurDaemon(recorded.head.pid, "head")) return restartHead(recorded, o);
  const running = currentRecord();
  if (running) throw new Error(`Helios daemons already run on this machine (cluster at ${running.head?.address ?? running.headAddress}). Run 'helios stop' first.`);
  const resources = nodeResources(o);
  const labels = parseLabels(o.labels);
  const token = o.token || randomBytes(32).toString("base64url");
  const host = o.host ?? "127.0.0.1";
  // A new cluster starts with empty tables, unless told to carry on from a storage directory.
  const storage = o.storage ? path.resolve(o.storage) : path.join(heliosHome(), "head", "storage");
  if (!o.storage) fs.rmSync(storage, { recursive: true, force: true });
  const head = await launch("head", { HELIOS_TOKEN: token, HELIOS_HOST: host, HELIOS_PORT: String(o.port ?? 0),
    HELIOS_HEAD_STORAGE: storage });
  const file = writeTokenFile(token);
  const { port } = splitAddress(head.address);
  const address = isWildcard(host) ? `${firstExternalIPv4()}:${port}` : head.address;
  const record: DaemonsFile = { head: { pid: head.pid, address, log: head.log, host, port, storage }, headAddress: address, agents: [], tokenFile: file };
  writeDaemons(record);
  try {
    const agent = await launchAgent(address, token, splitAddress(address).host, resources, labels, o);
    record.agents.push(agent);
    writeDaemons(record);
    return { address, pid: head.pid, tokenFile: file, token, storage, agent };
  } catch (e) {
    await stopDaemons();
    throw e;
  }
}

/** The recorded head died (killed, crashed, rebooted): start it on the same address, token and storage.
 *  Agents still running reconnect by themselves; this machine gets a new agent only if its own is gone. */
async function restartHead(d: DaemonsFile, o: NodeOptions & { token?: string; storage?: string }): Promise<HeadStarted> {
  const was = d.head!;
  if (o.storage && path.resolve(o.storage) !== was.storage) {
    throw new Error(`this machine's head (${was.address}) died and starts again on its storage ${was.storage}, not ${path.resolve(o.storage)}. ` +
      "Run 'helios stop' first to start a new cluster instead.");
  }
  const token = o.token || readTokenFile();
  if (!token) throw new Error(`cannot start the head again: its token file ${tokenFile()} is gone. Pass --token with the cluster's token.`);
  const head = await launch("head", { HELIOS_TOKEN: token, HELIOS_HOST: was.host!, HELIOS_PORT: String(was.port), HELIOS_HEAD_STORAGE: was.storage! });
  d.head = { ...was, pid: head.pid, log: head.log };
  d.agents = d.agents.filter((a) => isOurDaemon(a.pid, "agent"));
  writeDaemons(d);
  let agent: AgentRecord | undefined;
  if (d.agents.length === 0) {
    agent = await launchAgent(was.address, token, splitAddress(was.address).host, nodeResources(o), parseLabels(o.labels), o);
    d.agents.push(agent);
    writeDaemons(d);
  }
  return { address: was.address, pid: head.pid, tokenFile: d.tokenFile, token, storage: was.storage!, agent, restarted: head.loaded };
}

export async function startAgent(o: NodeOptions & { address: string; token: string }): Promise<AgentRecord> {
  ensureHome();
  const running = currentRecord();
  const runningAt = running && (running.head?.address ?? running.headAddress);
  if (runningAt && runningAt !== o.address) {
    throw new Error(`this machine already runs daemons of the cluster at ${runningAt}. Run 'helios stop' first to join ${o.address}.`);
  }
  const resources = nodeResources(o);
  const labels = parseLabels(o.labels);
  const host = o.host && !isWildcard(o.host) ? o.host : await routeAddress(o.address);
  await checkHead(o.address, o.token);
  const agent = await launchAgent(o.address, o.token, host, resources, labels, o);
  const file = writeTokenFile(o.token);
  const record = running ?? { headAddress: o.address, agents: [], tokenFile: file };
  record.agents = record.agents.filter((a) => isOurDaemon(a.pid, "agent"));
  record.agents.push(agent);
  writeDaemons(record);
  return agent;
}

async function launchAgent(head: string, token: string, host: string, resources: Resources, labels: Record<string, string>, o: NodeOptions): Promise<AgentRecord> {
  const sessionDir = fs.mkdtempSync(path.join(heliosHome(), "session-"));
  const a = await launch("agent", { HELIOS_TOKEN: token, HELIOS_HOST: host, HELIOS_HEAD: head, HELIOS_SESSION_DIR: sessionDir,
    HELIOS_RESOURCES: JSON.stringify(resources), HELIOS_LABELS: JSON.stringify(labels),
    ...(o.agentPort ? { HELIOS_AGENT_PORT: String(o.agentPort) } : {}),
    ...(o.transferPort ? { HELIOS_TRANSFER_PORT: String(o.transferPort) } : {}),
    ...(o.workerPorts ? { HELIOS_WORKER_PORTS: o.workerPorts } : {}),
    ...storeEnv(o) });
  return { pid: a.pid, address: a.address, nodeId: a.nodeId, log: a.log, labels };
}

/** Fail early, with a clear message, when the head is unreachable or the token is wrong. */
async function checkHead(address: string, token: string): Promise<NodeRow[]> {
  const client = new RpcClient(address, "Head", token);
  try {
    return await client.call("listNodes", {}, 5000);
  } catch (e: any) {
    if (e instanceof AuthenticationError) throw new Error(`the head at ${address} refused the call: wrong or missing token (${e.message})`, { cause: e });
    throw new Error(`cannot reach the Helios head at ${address}: ${String(e.details ?? e.message).replace(/\s*Resolution note:.*$/, "").replace(/\.+$/, "")}. Is it running ('helios start --head')?`, { cause: e });
  } finally { client.close(); }
}

/** A node as `listNodes` returns it; older heads may leave out `available` and `labels`. */
export type NodeRow = Omit<NodeInfo, "available" | "labels"> & Partial<Pick<NodeInfo, "available" | "labels">> & {
  /** The node's object store, as its agent reports it (live nodes whose agent answered). */
  store?: { capacity: number; usedBytes: number; spilledObjects: number; spilledBytes: number };
};

export type { HeadStorageReport } from "../protocol.js";

/** The head's storage report, or undefined when it cannot tell (not answered in time). */
export async function headStorage(address: string, token: string): Promise<HeadStorageReport | undefined> {
  const client = new RpcClient(address, "Head", token);
  try { return await client.call("headInfo", {}, 3000); } catch { return undefined; } finally { client.close(); }
}

/** A warning line when the head skipped corrupt records of its storage as it started; else undefined. */
export function formatStorageWarning(r: HeadStorageReport | undefined): string | undefined {
  if (!r?.skipped.length) return undefined;
  const where = r.skipped.slice(0, 5).map((s) => `offset ${s.offset} (${s.bytes} bytes: ${s.reason})`).join(", ") + (r.skipped.length > 5 ? ", …" : "");
  return `Warning: the head skipped ${r.skipped.length} corrupt record(s) of its storage ${r.storage} when it started, at ${where}; ` +
    `what they held (an actor, job, node or kv key) is lost or older. The log as it was is saved in ${r.savedAs}. ` +
    "Tip: look for missing named actors and kv keys, and keep that file to repair from.";
}

/** The head's node list, with each live node's availability asked of its agent. */
export async function clusterStatus(address: string, token: string): Promise<NodeRow[]> {
  const nodes: NodeRow[] = await checkHead(address, token);
  const known = new Map((readDaemons()?.agents ?? []).map((a) => [a.nodeId, a.labels]));
  return Promise.all(nodes.map(async (n) => {
    const row: NodeRow = { ...n, labels: n.labels ?? known.get(n.nodeId) };   // labels we gave our own agents
    if (n.state !== "ALIVE") return row;
    const agent = new RpcClient(n.agentAddress, "NodeAgent", token);
    try {
      const info = await agent.call("info", {}, 3000);
      row.available = info.available;
      row.store = info.store;
    } catch { /* keep what the head said */ }
    finally { agent.close(); }
    return row;
  }));
}

const num = (x: number) => String(Math.round(x * 100) / 100);
const usage = (n: NodeRow, k: string) => {
  const total = n.resources[k] ?? 0;
  if (!n.available) return `?/${num(total)}`;
  return `${num(total - (n.available[k] ?? total))}/${num(total)}`;
};

/** Bytes for people: 0 B, 512 KB, 64 MB, 7.5 GB (powers of 1000, as --object-store-memory counts). */
export function formatBytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${i === 0 || n >= 100 ? Math.round(n) : Math.round(n * 10) / 10} ${units[i]}`;
}

/** Object store use: in memory/capacity, and what has spilled to disk. */
const storeUse = (n: NodeRow) => {
  if (!n.store) return "?";
  const s = n.store;
  return `${formatBytes(s.usedBytes)}/${formatBytes(s.capacity)}` + (s.spilledObjects ? `, ${s.spilledObjects} spilled (${formatBytes(s.spilledBytes)})` : "");
};

export function formatStatus(address: string, nodes: NodeRow[]): string {
  const alive = nodes.filter((n) => n.state === "ALIVE").length;
  const rows = [["NODE", "ADDRESS", "STATE", "CPU", "GPU", "OTHER", "OBJECT STORE", "LABELS"]];
  for (const n of nodes) {
    const other = Object.keys(n.resources).filter((k) => k !== "CPU" && k !== "GPU").sort().map((k) => `${k} ${usage(n, k)}`);
    const labels = Object.entries(n.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    rows.push([n.nodeId, n.agentAddress, n.state, usage(n, "CPU"), usage(n, "GPU"), other.join(", ") || "-",
      n.state === "ALIVE" ? storeUse(n) : "-", labels.join(",") || "-"]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
  return `Helios cluster at ${address}: ${nodes.length} node(s), ${alive} alive (used/total per resource)\n\n${table}`;
}

/** True only for a live process whose command line is this kind of Helios daemon. */
function isOurDaemon(pid: number, kind: "head" | "agent"): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); } catch { return false; }
  let cmdline: string;
  try { cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"); } catch {
    try { cmdline = execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" }); } catch { return false; }
  }
  return cmdline.includes(MARKERS[kind]);
}

async function terminate(pid: number, kind: "head" | "agent"): Promise<"SIGTERM" | "SIGKILL"> {
  process.kill(pid, "SIGTERM");
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    if (!isOurDaemon(pid, kind)) return "SIGTERM";
    await new Promise((r) => setTimeout(r, 50));
  }
  if (isOurDaemon(pid, kind)) process.kill(pid, "SIGKILL");
  for (let i = 0; i < 20 && isOurDaemon(pid, kind); i++) await new Promise((r) => setTimeout(r, 50));
  return "SIGKILL";
}

export interface Stopped { kind: "head" | "agent"; pid: number; address: string; result: "stopped" | "killed" | "not running" }

/** Stop the daemons recorded in daemons.json (agents first: they end their workers), then forget them. */
export async function stopDaemons(): Promise<Stopped[]> {
  const d = readDaemons();
  if (!d) return [];
  const all = [...d.agents.map((a) => ({ ...a, kind: "agent" as const })), ...(d.head ? [{ ...d.head, kind: "head" as const }] : [])];
  const out: Stopped[] = [];
  for (const r of all) {
    const base = { kind: r.kind, pid: r.pid, address: r.address };
    if (!isOurDaemon(r.pid, r.kind)) { out.push({ ...base, result: "not running" }); continue; }
    out.push({ ...base, result: (await terminate(r.pid, r.kind)) === "SIGTERM" ? "stopped" : "killed" });
  }
  fs.rmSync(daemonsFile(), { force: true });
  return out;
}

