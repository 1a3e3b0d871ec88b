import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createNetwork, netnsAvailable } from "./netns.mjs";
import { waitFor } from "./helpers.mjs";

const HOSTS = ["head", "a", "b", "driver"];

// These tests must run in CI (as root): without root and iproute2 they fail, they do not skip.
function requireNetns() {
  assert.ok(netnsAvailable(), "the multi-host tests need root and iproute2 (`ip netns`, `tc`): run them as root with iproute2 installed (apt-get install -y iproute2)");
}

// Replies "pong <its ip>" to every connection; prints "listening" once bound to the host's own address.
const SERVER = `require("node:net").createServer((s) => s.end("pong " + process.argv[1]))
  .listen(7000, process.argv[1], () => console.log("listening"));`;

// Connects, prints the reply and exits 0; exits 2 on timeout, 3 on a connection error.
const CLIENT = `const [host, port, ms] = process.argv.slice(1);
  setTimeout(() => { console.error("timeout"); process.exit(2); }, Number(ms));
  let reply = "";
  require("node:net").connect({ host, port: Number(port) })
    .on("data", (d) => { reply += d; })
    .on("end", () => { console.log(reply); process.exit(0); })
    .on("error", (e) => { console.error(e.code); process.exit(3); });`;

async function startServer(net, host) {
  const server = net.spawn(host, process.execPath, ["-e", SERVER, net.hosts[host].ip], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  server.stdout.setEncoding("utf8").on("data", (d) => { out += d; });
  await waitFor(() => out.includes("listening"), 10000, `server in ${host} to listen`);
  return server;
}

const connect = (net, from, to, ms = 3000) => net.exec(from, process.execPath, ["-e", CLIENT, net.hosts[to].ip, "7000", String(ms)]);

// A zombie (killed but not yet reaped by its new parent) counts as gone.
function running(pid) {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const netnsNames = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
const linkNames = () => JSON.parse(execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" })).map((l) => l.ifname);

test("hosts in separate namespaces reach each other over the bridge", async () => {
  requireNetns();
  const net = await createNetwork({ hosts: HOSTS });
  try {
    assert.deepEqual(Object.keys(net.hosts), HOSTS);
    assert.equal(new Set(Object.values(net.hosts).map((h) => h.ip)).size, HOSTS.length);
    await startServer(net, "b");
    const r = await connect(net, "a", "b");
    assert.equal(r.code, 0, `client in a failed: ${r.stderr}`);
    assert.equal(r.stdout.trim(), `pong ${net.hosts.b.ip}`);
    // Only the /24 is routable from a host: no default route, so nothing leaves the test network.
    const routes = (await net.exec("a", "ip", ["-4", "route"])).stdout.trim().split("\n");
    assert.deepEqual(routes.map((l) => l.split(" ")[0]), [net.subnet]);
  } finally {
    await net.destroy();
  }
});

test("a cut link stops traffic and a restore brings it back", async () => {
  requireNetns();
  const net = await createNetwork({ hosts: HOSTS });
  try {
    await startServer(net, "b");
    assert.equal((await connect(net, "a", "b")).code, 0);
    await net.cut("b");
    const cut = await connect(net, "a", "b", 1000);
    assert.notEqual(cut.code, 0, `a still reached b over a cut link: ${cut.stdout}`);
    await net.restore("b");
    let last;
    await waitFor(async () => (last = await connect(net, "a", "b", 1000)).code === 0, 10000, "a to reach b after restore");
    assert.equal(last.stdout.trim(), `pong ${net.hosts.b.ip}`);
  } finally {
    await net.destroy();
  }
});

test("destroy removes every namespace, link and process it made", async () => {
  requireNetns();
  const net = await createNetwork({ hosts: HOSTS });
  const namespaces = Object.values(net.hosts).map((h) => h.ns);
  const links = [net.bridge, ...Object.values(net.hosts).map((h) => h.veth)];
  assert.deepEqual(namespaces.filter((ns) => !netnsNames().includes(ns)), [], "namespaces were not created");
  assert.deepEqual(links.filter((l) => !linkNames().includes(l)), [], "links were not created");

  const sleeper = net.spawn("a", "sleep", ["1000"], { stdio: "ignore" });
  const server = await startServer(net, "b");
  // A grandchild in its own process group whose parent has exited: only the namespace still knows it.
  const orphan = await net.exec("driver", process.execPath, ["-e",
    `const c = require("node:child_process").spawn("sleep", ["1000"], { detached: true, stdio: "ignore" }); c.unref(); console.log(c.pid);`]);
  const pids = [sleeper.pid, server.pid, Number(orphan.stdout)];
  assert.ok(pids.every(running), `processes not started: ${pids}`);

  await net.destroy();
  await net.destroy(); // idempotent

  await waitFor(() => !pids.some(running), 5000, `processes ${pids.filter(running)} to die`);
  assert.deepEqual(namespaces.filter((ns) => netnsNames().includes(ns)), [], "namespaces left behind");
  assert.deepEqual(linkNames().filter((l) => l.includes(net.id)), [], "links left behind");
  await assert.rejects(net.cut("a"), /destroyed/);
});
