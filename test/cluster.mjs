// A real Helios cluster across network namespaces: the head, each agent and each driver run in
// their own host (test/netns.mjs), so every call crosses a real link that tests can cut.
import * as os from "node:os";
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { createNetwork } from "./netns.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const HEAD_PORT = 6380;

/**
 * Start head + agents. `agents` maps a host name to its options ({ resources, labels }).
 * Returns { net, token, headAddress, head, nodes: { [host]: { nodeId, pid, address } }, driver(), startAgent(),
 * killHead(), startHead(), stop() }. The head keeps its tables in <home>/head/storage, so a head
 * started again after killHead() carries on from them, on the same address.
 */
export async function startNetworkCluster({ agents, drivers = ["driver"], healthTimeoutMs = 1500 }) {
  const net = await createNetwork({ hosts: ["head", ...Object.keys(agents), ...drivers] });
  const token = randomBytes(16).toString("hex");
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "helios-cluster-"));
  const env = (extra) => ({ ...process.env, HELIOS_TOKEN: token, HELIOS_SESSION_DIR: home, ...extra });
  const cluster = { net, token, nodes: {}, headAddress: `${net.hosts.head.ip}:${HEAD_PORT}` };
  try {
    cluster.startHead = async () => {
      const proc = net.spawn("head", process.execPath, [path.join(root, "dist/head/main.js")], {
        env: env({ HELIOS_HOST: net.hosts.head.ip, HELIOS_PORT: String(HEAD_PORT), HELIOS_HEALTH_TIMEOUT_MS: String(healthTimeoutMs) }),
        stdio: ["ignore", "pipe", "inherit"] });
      cluster.head = { ...(await firstJson(proc, "head")), proc };
      return cluster.head;
    };
    /** SIGKILL the head; resolves once the process is gone (its storage stays). */
    cluster.killHead = async () => {
      const { proc } = cluster.head;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((resolve) => proc.once("exit", resolve));
      process.kill(proc.pid, "SIGKILL");
      await gone;
    };
    await cluster.startHead();
    cluster.startAgent = async (host) => {
      const o = agents[host] ?? {};
      // `hide`: directories this agent must not see (its own mount namespace, a tmpfs over each).
      const agentMain = [process.execPath, path.join(root, "dist/node-agent/main.js")];
      const [cmd, ...args] = o.hide?.length
        ? ["unshare", "--mount", "--propagation", "private", "sh", "-c",
          o.hide.map((d) => `mount -t tmpfs tmpfs '${d}' && `).join("") + `exec '${agentMain[0]}' '${agentMain[1]}'`]
        : agentMain;
      const proc = net.spawn(host, cmd, args, {
        env: env({ HELIOS_HOST: net.hosts[host].ip, HELIOS_HEAD: cluster.headAddress, HELIOS_HEARTBEAT_MS: "200",
          HELIOS_RESOURCES: JSON.stringify(o.resources ?? { CPU: 2 }), HELIOS_LABELS: JSON.stringify(o.labels ?? {}),
          HELIOS_SESSION_DIR: path.join(home, host) }),
        stdio: ["ignore", "pipe", "inherit"] });
      cluster.nodes[host] = { ...(await firstJson(proc, `agent ${host}`)), proc };
      return cluster.nodes[host];
    };
    for (const host of Object.keys(agents)) await cluster.startAgent(host);
  } catch (e) {
    await net.destroy();
    throw e;
  }
  /** Run test/fixtures/cluster-driver.mjs <scenario> on `host`; resolves the JSON it prints on its RESULT line. */
  cluster.driver = async (scenario, args = {}, host = drivers[0]) => {
    const r = await net.exec(host, process.execPath, [path.join(root, "test/fixtures/cluster-driver.mjs"), scenario, JSON.stringify(args)], {
      env: { ...process.env, HELIOS_ADDRESS: cluster.headAddress, HELIOS_TOKEN: token }, timeout: 120_000 });
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    if (r.code !== 0 || !line) throw new Error(`driver ${scenario} on ${host} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return { ...JSON.parse(line.slice(7)), output: r.stdout };
  };
  cluster.stop = async () => {
    await net.destroy();
    fs.rmSync(home, { recursive: true, force: true });
  };
  return cluster;
}

function firstJson(proc, what) {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    const onExit = (code) => reject(new Error(`${what} exited with ${code} before it was ready`));
    proc.once("exit", onExit);
    rl.once("line", (line) => { proc.off("exit", onExit); resolve({ ...JSON.parse(line), pid: proc.pid }); });
  });
}
