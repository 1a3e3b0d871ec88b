// Node agent daemon entry point. Registers with the head, then prints one JSON line.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { forkWorker } from "./worker-pool.js";
import { checkSettings, setting } from "../src/config.js";
import type { JobInfo } from "../src/protocol.js";

try {
  checkSettings("agent");   // a bad HELIOS_* value stops the agent here, named
} catch (e) {
  console.error(`helios agent: ${(e as Error).message}`);
  process.exit(1);
}
// Started by a driver for its embedded cluster: fork that job's first worker before anything
// else, so that its start-up overlaps the loading of the agent's own modules (below).
const bootJob = setting("HELIOS_JOB") as JobInfo | undefined;
const forked = bootJob && setting("HELIOS_PRESTART") !== 0 ? forkWorker(bootJob) : undefined;

const [{ NodeAgent }, { ObjectTransfer }, { StoreMonitor }, { addService, bindServer, createServer, RpcClient }, { exitWithParent }, { newNodeId },
  { privateDir }] = await Promise.all([import("./agent.js"), import("./transfer.js"), import("./store-monitor.js"),
  import("../src/rpc/grpc.js"), import("../src/cluster/daemon.js"), import("../src/ids.js"), import("../src/cluster/private-dir.js")]);

const token = setting("HELIOS_TOKEN") ?? "";
const host = setting("HELIOS_HOST");
const headAddress = setting("HELIOS_HEAD")!;
const resources = setting("HELIOS_RESOURCES");
const labels = setting("HELIOS_LABELS");
resources.CPU ??= os.cpus().length;
const nodeId = newNodeId();
const sessionDir = setting("HELIOS_SESSION_DIR") ?? path.join(os.tmpdir(), `helios-${nodeId}`);
const spillBase = setting("HELIOS_SPILL_DIR");
let storeDir: string;
let store: InstanceType<typeof StoreMonitor>;
try {
  // Private (0700), and refused when another user made a directory of that name first.
  privateDir(sessionDir, "the node's session directory");
  storeDir = pickStoreDir(nodeId);
  store = new StoreMonitor(storeDir, { capacity: storeCapacity(storeDir), spillDir: path.join(spillBase ?? os.tmpdir(), `helios-spill-${nodeId}`) });
} catch (e) {
  console.error(`helios agent: ${(e as Error).message}`);
  process.exit(1);
}
store.start();
// Stopped while it starts (its driver's init() failed, say): remove the stores it made. From
// exitWithParent() on, the full clean-up below does.
const stopEarly = () => { store.close(); fs.rmSync(storeDir, { recursive: true, force: true }); process.exit(0); };
process.once("SIGTERM", stopEarly);
const logDir = path.join(sessionDir, "logs");
fs.mkdirSync(logDir, { recursive: true, mode: 0o700 });

const server = createServer(token);
const port = await bindServer(server, host, setting("HELIOS_AGENT_PORT"));
const agentAddress = `${host}:${port}`;
const transfer = new ObjectTransfer(storeDir, token);
const transferAddress = await transfer.listen(host, setting("HELIOS_TRANSFER_PORT"));
const agent = new NodeAgent({ nodeId, token, host, headAddress, agentAddress, transferAddress, storeDir, logDir, resources, storeStats: () => store.stats(),
  prestart: setting("HELIOS_PRESTART") }, transfer);
addService(server, "NodeAgent", token, agent.handlers());
// Warm the embedded cluster's job's workers while the head starts.
if (bootJob) agent.registerDriver(bootJob, forked);
const head = new RpcClient(headAddress, "Head", token);
await head.ready(20_000);   // an embedded cluster starts its head and agent together
const registration = { nodeId, agentAddress, transferAddress, resources, available: resources, labels, storeDir };
await head.call("registerNode", registration);
head.close();
let declaredDead = false;
agent.startHeartbeat(setting("HELIOS_HEARTBEAT_MS"), registration, () => {
  if (declaredDead) return;   // heartbeats already on their way are refused too
  declaredDead = true;
  console.error(`node ${nodeId} was declared dead by the head; exiting (start the agent again to rejoin as a new node)`);
  process.kill(process.pid, "SIGTERM");
});
process.stdout.write(JSON.stringify({ nodeId, address: agentAddress, transferAddress, storeDir, logDir, pid: process.pid }) + "\n");

process.off("SIGTERM", stopEarly);
exitWithParent(() => {
  agent.close();
  transfer.close();
  server.forceShutdown();
  store.close();
  fs.rmSync(storeDir, { recursive: true, force: true });
});

/** Objects live in /dev/shm when it exists and has room, else in the temp dir. */
function pickStoreDir(id: string): string {
  for (const base of ["/dev/shm", os.tmpdir(), spillBase].filter((b): b is string => !!b)) sweepStaleStores(base);
  const base = fs.existsSync("/dev/shm") && fs.statfsSync("/dev/shm").bavail * fs.statfsSync("/dev/shm").bsize > 1 << 30 ? "/dev/shm" : os.tmpdir();
  const dir = privateDir(path.join(base, `helios-objects-${id}`), "the object store directory");
  fs.writeFileSync(path.join(dir, ".agent-pid"), `${process.pid}\n`, { mode: 0o600 });
  return dir;
}

/**
 * An agent that was SIGKILLed (or lost its machine's power) could not remove its store, and
 * objects in /dev/shm hold memory until someone does: remove the stores whose agent is gone.
 */
function sweepStaleStores(base: string): void {
  let names: string[];
  try { names = fs.readdirSync(base).filter((n) => n.startsWith("helios-objects-") || n.startsWith("helios-spill-")); } catch { return; }
  for (const name of names) {
    const dir = path.join(base, name);
    let pid: number;
    try {
      // Only this user's own stores: another user's directory (or a link planted there) is not ours to read or remove.
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.()) continue;
      pid = Number(fs.readFileSync(path.join(dir, ".agent-pid"), "utf8"));
    } catch { continue; }
    if (pid > 0 && isAgent(pid)) continue;
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* another process removes it too */ }
  }
}

/**
 * Bytes the store may hold in memory before objects spill to disk: HELIOS_OBJECT_STORE_BYTES,
 * else 30% of the machine's memory, and never more than 90% of what its filesystem has free.
 */
function storeCapacity(dir: string): number {
  const st = fs.statfsSync(dir);
  const fsFree = st.bavail * st.bsize;
  const asked = setting("HELIOS_OBJECT_STORE_BYTES");
  return Math.floor(Math.min(asked ?? os.totalmem() * 0.3, fsFree * 0.9));
}

function isAgent(pid: number): boolean {
  if (fs.existsSync("/proc/self/cmdline")) {   // also guards against a reused pid
    try { return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("node-agent"); } catch { return false; }
  }
  try { process.kill(pid, 0); return true; } catch (e: any) { return e.code === "EPERM"; }
}
