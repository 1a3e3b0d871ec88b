// Head daemon entry point. Prints one JSON line with its address once it serves.
// Its tables live in a storage directory (HELIOS_HEAD_STORAGE, default <data dir>/storage):
// a head started again on the same directory (and port) carries on where the last one stopped.
import * as os from "node:os";
import * as path from "node:path";
import { Head } from "./head.js";
import { HeadStore, type FsyncPolicy } from "./store.js";
import type { JobInfo } from "../src/protocol.js";
import { addService, bindServer, createServer } from "../src/rpc/grpc.js";
import { exitWithParent } from "../src/cluster/daemon.js";
import { privateDir } from "../src/cluster/private-dir.js";
import { checkSettings, setting } from "../src/config.js";

let store: HeadStore;
let token: string, host: string, port: number, storageDir: string;
try {
  checkSettings("head");   // a bad HELIOS_* value stops the head here, named
  token = setting("HELIOS_TOKEN") ?? "";
  host = setting("HELIOS_HOST");
  port = setting("HELIOS_PORT");
  const session = setting("HELIOS_SESSION_DIR");
  const givenDir = setting("HELIOS_HEAD_DIR");
  const dataDir = givenDir ?? (session ? path.join(session, "head") : path.join(os.tmpdir(), `head-${process.pid}`));
  storageDir = path.resolve(setting("HELIOS_HEAD_STORAGE") ?? path.join(dataDir, "storage"));
  const fsync: FsyncPolicy = setting("HELIOS_HEAD_FSYNC");
  // Its own data directory (in the shared temp dir, at a name another user can guess) is private, and not one planted there.
  if (!givenDir) privateDir(dataDir, "the head's data directory");
  store = HeadStore.open(storageDir, { fsync, warn: (m) => console.error(`helios head: ${m}`) });
} catch (e) {
  console.error(`helios head: ${(e as Error).message}`);
  process.exit(1);
}
const loaded = { nodes: store.table("nodes").size, actors: store.table("actors").size, jobs: store.table("jobs").size,
  skipped: store.loadReport.skipped.length };
const head = new Head({ token, store, healthTimeoutMs: setting("HELIOS_HEALTH_TIMEOUT_MS") });
const server = createServer(token);
const handlers = head.handlers();
// Started by a driver for its embedded cluster: that driver's job, registered as it would register it.
const job = setting("HELIOS_JOB");
if (job) handlers.registerJob(job as JobInfo, { cancelled: () => false });
addService(server, "Head", token, handlers);
const bound = await bindServer(server, host, port);
exitWithParent(() => { head.close(); server.forceShutdown(); store.close(); });   // before "ready": a stop may follow at once
process.stdout.write(JSON.stringify({ address: `${host}:${bound}`, pid: process.pid, storage: storageDir, loaded }) + "\n");
