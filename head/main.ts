// Head daemon entry point. Prints one JSON line with its address once it serves.
// Its tables live in a storage directory (HELIOS_HEAD_STORAGE, default <data dir>/storage):
// a head started again on the same directory (and port) carries on where the last one stopped.
import * as os from "node:os";
import * as path from "node:path";
import { Head } from "./head.js";
import { HeadStore, type FsyncPolicy } from "./store.js";
import { addService, bindServer, createServer } from "../src/rpc/grpc.js";
import { exitWithParent } from "../src/cluster/daemon.js";
import { privateDir } from "../src/cluster/private-dir.js";

const token = process.env.HELIOS_TOKEN ?? "";
const host = process.env.HELIOS_HOST ?? "127.0.0.1";
const port = Number(process.env.HELIOS_PORT ?? 0);

const session = process.env.HELIOS_SESSION_DIR;
const dataDir = process.env.HELIOS_HEAD_DIR ?? (session ? path.join(session, "head") : path.join(os.tmpdir(), `head-${process.pid}`));
const storageDir = path.resolve(process.env.HELIOS_HEAD_STORAGE ?? path.join(dataDir, "storage"));
const fsync = (process.env.HELIOS_HEAD_FSYNC ?? "interval") as FsyncPolicy;

let store: HeadStore;
try {
  if (fsync !== "always" && fsync !== "interval") throw new Error(`HELIOS_HEAD_FSYNC must be "always" or "interval", got ${JSON.stringify(fsync)}`);
  // Its own data directory (in the shared temp dir, at a name another user can guess) is private, and not one planted there.
  if (!process.env.HELIOS_HEAD_DIR) privateDir(dataDir, "the head's data directory");
  store = HeadStore.open(storageDir, { fsync, warn: (m) => console.error(`helios head: ${m}`) });
} catch (e) {
  console.error(`helios head: ${(e as Error).message}`);
  process.exit(1);
}
const loaded = { nodes: store.table("nodes").size, actors: store.table("actors").size, jobs: store.table("jobs").size,
  skipped: store.loadReport.skipped.length };
const head = new Head({ token, store, healthTimeoutMs: Number(process.env.HELIOS_HEALTH_TIMEOUT_MS ?? 10_000) });
const server = createServer(token);
const handlers = head.handlers();
// Started by a driver for its embedded cluster: that driver's job, registered as it would register it.
if (process.env.HELIOS_JOB) handlers.registerJob(JSON.parse(process.env.HELIOS_JOB));
addService(server, "Head", token, handlers);
const bound = await bindServer(server, host, port);
exitWithParent(() => { head.close(); server.forceShutdown(); store.close(); });   // before "ready": a stop may follow at once
process.stdout.write(JSON.stringify({ address: `${host}:${bound}`, pid: process.pid, storage: storageDir, loaded }) + "\n");
