// The embedded local cluster of init() without an address: a head and one node agent as
// child processes of the driver. They exit with it: on shutdown(), on normal exit, on an
// uncaught exception, on SIGINT/SIGTERM, and (through stdin EOF) even on SIGKILL.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import * as net from "node:net";
import type { JobInfo } from "../protocol.js";
import { daemonEnv } from "./daemon.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface LocalClusterOptions {
  token: string;
  resources: Record<string, number>;
  prestart?: number;
  /** The object store: bytes kept in memory before objects spill to disk, and where they spill. */
  objectStoreMemory?: number;
  spillDir?: string;
  /** The driver's job (its driver listens already): the head registers it, the agent starts its workers. */
  job: JobInfo;
  /** Called with the head's address as soon as it serves (the agent may still be starting). */
  onHead?: (address: string) => void;
}

export interface LocalCluster {
  headAddress: string;
  agentAddress: string;
  transferAddress: string;
  nodeId: string;
  storeDir: string;
  sessionDir: string;
  pids: number[];
  stop(): Promise<void>;
}

export async function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  const sessionDir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-session-"));
  const env = { ...daemonEnv(process.env), HELIOS_TOKEN: o.token, HELIOS_PARENT: "1", HELIOS_SESSION_DIR: sessionDir, HELIOS_JOB: JSON.stringify(o.job) };
  const children: ChildProcess[] = [];
  const stopSync = () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM"); };
  process.on("exit", stopSync);
  try {
    // Head and agent start together: the head's port is chosen here, the agent waits for it.
    const port = await freePort();
    const head = daemon(path.join(root, "head/main.js"), { ...env, HELIOS_PORT: String(port) }, children);
    const agent = daemon(path.join(root, "node-agent/main.js"), { ...env, HELIOS_HEAD: `127.0.0.1:${port}`,
      HELIOS_RESOURCES: JSON.stringify(o.resources), ...(o.prestart !== undefined ? { HELIOS_PRESTART: String(o.prestart) } : {}),
      ...storeEnv(o) }, children);
    const [headInfo, agentInfo] = await Promise.all([firstLine(head, "head").then((h) => { o.onHead?.(h.address); return h; }),
      firstLine(agent, "node agent")]);
    for (const c of children) { c.unref(); (c.stdin as any)?.unref?.(); (c.stdout as any)?.unref?.(); }
    return {
      headAddress: headInfo.address, agentAddress: agentInfo.address, transferAddress: agentInfo.transferAddress, nodeId: agentInfo.nodeId,
      storeDir: agentInfo.storeDir, sessionDir, pids: children.map((c) => c.pid!),
      async stop() {
        process.off("exit", stopSync);
        // Agent first (it ends its workers), then the head.
        for (const c of [...children].reverse()) await terminate(c);
        fs.rmSync(sessionDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    // One daemon failed to start: end the other (the agent ends its workers), then remove
    // the session directory, once nothing writes to it any more.
    process.off("exit", stopSync);
    await Promise.all(children.map(terminate));
    fs.rmSync(sessionDir, { recursive: true, force: true });
    throw e;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function daemon(script: string, env: NodeJS.ProcessEnv, children: ChildProcess[]): ChildProcess {
  const c = spawn(process.execPath, [script], { env, stdio: ["pipe", "pipe", "inherit"] });
  children.push(c);
  return c;
}

function firstLine(c: ChildProcess, what: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: c.stdout! });
    const onExit = (code: number | null) => reject(new Error(`the ${what} exited with code ${code} before it was ready`));
    c.once("exit", onExit);
    rl.once("line", (line) => { c.off("exit", onExit); rl.close(); c.stdout!.resume(); resolve(JSON.parse(line)); });
  });
}

function terminate(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => c.kill("SIGKILL"), 3000);
    c.once("exit", () => { clearTimeout(t); resolve(); });
    c.kill("SIGTERM");
  });
}

/** The agent's environment for the object store's capacity and spill directory. */
export function storeEnv(o: { objectStoreMemory?: number; spillDir?: string }): Record<string, string> {
  return {
    ...(o.objectStoreMemory !== undefined ? { HELIOS_OBJECT_STORE_BYTES: String(o.objectStoreMemory) } : {}),
    ...(o.spillDir !== undefined ? { HELIOS_SPILL_DIR: path.resolve(o.spillDir) } : {}),
  };
}
