// A real multi-host network on one Linux machine, for cluster tests that must cross real links.
//
// Each host is a network namespace with its own stack; it is plugged into one Linux bridge by a
// veth pair (host side "hxv…" on the bridge, namespace side "eth0" with 10.200.X.<n>/24).
// Processes started with spawn/exec run inside a host's namespace, so a head, agents and a driver
// talk over TCP across real interfaces that we can cut, delay or make lossy (tc netem).
//
//   ns hx<pid><k>-head ─eth0═veth═hxv<pid><k>0─┐
//   ns hx<pid><k>-a    ─eth0═veth═hxv<pid><k>1─┼─ bridge hxb<pid><k> (root namespace)
//   ns hx<pid><k>-b    ─eth0═veth═hxv<pid><k>2─┘
//
// The bridge has no address and the namespaces have only their /24 route (no default route),
// so traffic stays between the namespaces and never reaches the machine's own network.
// Names carry the creating pid (and a letter k for the k-th network of that process), so
// concurrent runs never collide and leftovers of a crashed run (creator dead) are removed on the
// next createNetwork. Everything is torn down on destroy(), on process exit and on SIGINT/SIGTERM.
// Needs root and iproute2 (`ip`, `tc`).
import { spawn as spawnChild, execFileSync } from "node:child_process";
import { once } from "node:events";

const live = new Set(); // networks of this process not yet destroyed
let counter = 0;
let handlersInstalled = false;

/** True when running as root on Linux and `ip netns` works. */
export function netnsAvailable() {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return false;
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Run a command synchronously; returns stdout, throws with stderr on failure. */
function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${(e.stderr || e.message).trim()}`);
  }
}
function tryRun(cmd, args) {
  try { return run(cmd, args); } catch { return ""; }
}

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === "EPERM"; }
}

/** SIGKILL every process inside a namespace (anything there was started through the harness). */
function killNamespace(ns) {
  for (const pid of tryRun("ip", ["netns", "pids", ns]).split(/\s+/).filter(Boolean)) {
    try { process.kill(Number(pid), "SIGKILL"); } catch {}
  }
}

// Our names: namespace hx<pid><k>-<host>, bridge hxb<pid><k>, veth hxv<pid><k><n> (k = a..z).
const OURS = [/^hx(\d+)([a-z])-[a-z0-9-]+$/, /^hxb(\d+)([a-z])$/, /^hxv(\d+)([a-z])\d+$/];
function stale(name) {
  for (const re of OURS) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    // The creator is gone, or its pid now belongs to us but this is not one of our live networks.
    if (pid === process.pid) return ![...live].some((net) => net.id === m[1] + m[2]);
    return !alive(pid);
  }
  return false;
}

/** Remove namespaces, bridges and veths left by harness runs whose creating process is dead. */
function removeStale() {
  const namespaces = tryRun("ip", ["netns", "list"]).split("\n").map((l) => l.split(" ")[0]).filter(Boolean);
  for (const ns of namespaces.filter(stale)) {
    killNamespace(ns);
    tryRun("ip", ["netns", "del", ns]);
  }
  const links = JSON.parse(tryRun("ip", ["-j", "link", "show"]) || "[]").map((l) => l.ifname);
  for (const link of links.filter(stale)) tryRun("ip", ["link", "del", link]);
}

function destroyAll() {
  for (const net of [...live]) net.destroySync();
}

function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", destroyAll);
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.once(sig, function onSignal() {
      destroyAll();
      // If nobody else handles the signal, die of it as we would have without this handler.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

/**
 * Build the hosts. `id` (0–25) picks this network's letter when a process runs several at once;
 * by default each call takes the next one.
 */
export async function createNetwork({ hosts, id } = {}) {
  if (!Array.isArray(hosts) || hosts.length === 0 || hosts.length > 250) throw new Error("createNetwork: hosts must be 1–250 names");
  if (new Set(hosts).size !== hosts.length || hosts.some((h) => !/^[a-z0-9][a-z0-9-]{0,30}$/.test(h))) {
    throw new Error(`createNetwork: host names must be unique, lower-case letters, digits and '-': ${hosts}`);
  }
  const k = id ?? counter++ % 26;
  if (!Number.isInteger(k) || k < 0 || k > 25) throw new Error(`createNetwork: id must be an integer 0–25, got ${id}`);
  const tag = `${process.pid}${String.fromCharCode(97 + k)}`;
  if ([...live].some((net) => net.id === tag)) throw new Error(`createNetwork: network ${tag} already exists in this process`);
  const subnet = `10.200.${(process.pid % 250) + 1}`;
  const bridge = `hxb${tag}`;
  const procs = new Set(); // ChildProcesses started by spawn/exec that have not exited yet
  let destroyed = false;

  installHandlers();
  removeStale();

  const byName = {};
  hosts.forEach((name, i) => {
    byName[name] = { name, ns: `hx${tag}-${name}`, ip: `${subnet}.${i + 1}`, veth: `hxv${tag}${i}` };
  });
  const host = (name) => {
    const h = byName[name];
    if (!h) throw new Error(`unknown host "${name}" (hosts: ${hosts.join(", ")})`);
    if (destroyed) throw new Error("network already destroyed");
    return h;
  };

  const net = {
    id: tag,
    bridge,
    subnet: `${subnet}.0/24`,
    hosts: byName,

    /** Run a command inside a host's namespace; returns the ChildProcess (own process group). */
    spawn(name, command, args = [], options = {}) {
      const child = spawnChild("ip", ["netns", "exec", host(name).ns, command, ...args], { ...options, detached: true });
      procs.add(child);
      child.once("exit", () => procs.delete(child));
      child.once("error", () => procs.delete(child));
      return child;
    },

    /** Run a command inside a host's namespace to completion: { code, signal, stdout, stderr }. */
    exec(name, command, args = [], { input, ...options } = {}) {
      return new Promise((resolve, reject) => {
        const child = net.spawn(name, command, args, { ...options, stdio: "pipe" });
        let stdout = "", stderr = "";
        child.stdout.setEncoding("utf8").on("data", (d) => { stdout += d; });
        child.stderr.setEncoding("utf8").on("data", (d) => { stderr += d; });
        child.stdin.on("error", () => {}); // EPIPE if the command exits without reading its input
        child.stdin.end(input);
        child.once("error", reject);
        child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
      });
    },

    /** Take a host's link down (host side of its veth) / bring it back. */
    async cut(name) { run("ip", ["link", "set", host(name).veth, "down"]); },
    async restore(name) { run("ip", ["link", "set", host(name).veth, "up"]); },

    /** netem on a host's link, both directions (e.g. "delay 50ms" adds 50ms each way). */
    async netem(name, spec) {
      const h = host(name), params = String(spec).trim().split(/\s+/);
      try {
        run("tc", ["qdisc", "replace", "dev", h.veth, "root", "netem", ...params]);
        run("tc", ["-n", h.ns, "qdisc", "replace", "dev", "eth0", "root", "netem", ...params]);
      } catch (e) {
        if (/qdisc kind is unknown/.test(e.message)) e.message += " (this kernel has no netem: CONFIG_NET_SCH_NETEM / sch_netem)";
        throw e;
      }
    },
    async clearNetem(name) {
      const h = host(name);
      tryRun("tc", ["qdisc", "del", "dev", h.veth, "root"]);
      tryRun("tc", ["-n", h.ns, "qdisc", "del", "dev", "eth0", "root"]);
    },

    /** Synchronous teardown (used by exit/signal handlers). Idempotent. */
    destroySync() {
      if (destroyed) return;
      destroyed = true;
      live.delete(net);
      // Process groups of the children we started (still ours: 'exit' not seen, so the pid is not reused).
      for (const child of procs) {
        try { process.kill(-child.pid, "SIGKILL"); } catch {}
      }
      const all = Object.values(byName);
      for (const h of all) killNamespace(h.ns); // whatever they left behind in the namespace
      for (const h of all) tryRun("ip", ["link", "del", h.veth]); // deletes both ends
      tryRun("ip", ["link", "del", bridge]);
      for (const h of all) tryRun("ip", ["netns", "del", h.ns]);
    },

    /** Tear everything down and wait for the killed children to be reaped. Idempotent. */
    async destroy() {
      const waiting = [...procs].map((c) => once(c, "exit").catch(() => {}));
      net.destroySync();
      await Promise.race([Promise.all(waiting), new Promise((r) => setTimeout(r, 5000).unref())]);
    },
  };
  net[Symbol.asyncDispose] = net.destroy;
  live.add(net);

  try {
    run("ip", ["link", "add", bridge, "type", "bridge"]);
    run("ip", ["link", "set", bridge, "up"]);
    for (const h of Object.values(byName)) {
      run("ip", ["netns", "add", h.ns]);
      run("ip", ["-n", h.ns, "link", "set", "lo", "up"]);
      run("ip", ["link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns]);
      run("ip", ["link", "set", h.veth, "master", bridge, "up"]);
      run("ip", ["-n", h.ns, "addr", "add", `${h.ip}/24`, "dev", "eth0"]);
      run("ip", ["-n", h.ns, "link", "set", "eth0", "up"]);
    }
  } catch (e) {
    net.destroySync();
    throw e;
  }
  return net;
}
