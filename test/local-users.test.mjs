// Another local user (uid nobody, through setpriv) against a running cluster: it cannot reach the
// same-host sockets, cannot take their names to catch the token, cannot read the token from a
// process's command line or environment, and a socket directory it made is not used.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { remote, get } from "helios";
import { connect } from "../dist/src/rpc/wire.js";
import { socketPath } from "../dist/src/rpc/local-socket.js";
import { startCluster } from "./helpers.mjs";

const canDrop = process.getuid?.() === 0 && (() => { try { execFileSync("setpriv", ["--version"]); return true; } catch { return false; } })();
const nobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];
// Scripts another user can read and run.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "helios-local-users-"));
fs.chmodSync(scratch, 0o755);

let cluster, endpoints, token, pids;
before(async () => {
  assert.ok(canDrop, "these tests run as root with setpriv (as CI does)");
  cluster = await startCluster({ numCpus: 1 });
  token = cluster.rt.core.config.token;
  await get(remote(() => 1).remote());
  const info = await cluster.agentInfo();
  endpoints = [cluster.rt.core.address, info.transferAddress, ...info.workers.filter((w) => w.address).map((w) => w.address)];
  pids = info.workers.map((w) => w.pid);
});
after(async () => { await cluster.stop(); fs.rmSync(scratch, { recursive: true, force: true }); });

/** Run `code` (an ES module) as uid nobody; resolves with its stdout. */
function asNobody(code, args = [], { onLine } = {}) {
  const file = path.join(scratch, `s${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(file, code, { mode: 0o644 });
  const child = spawn("setpriv", [...nobody, process.execPath, file, ...args], { stdio: ["pipe", "pipe", "inherit"], cwd: scratch });
  let out = "";
  child.stdout.on("data", (d) => { out += d; if (onLine) for (const l of String(d).split("\n").filter(Boolean)) onLine(l); });
  const done = new Promise((resolve, reject) => child.on("exit", (code) => code === 0 ? resolve(out) : reject(new Error(`exited ${code}: ${out}`))));
  return { child, done };
}

test("another user cannot connect to the same-host sockets", async () => {
  const paths = endpoints.map((a) => { const [h, p] = a.split(":"); return socketPath(h, Number(p)); });
  assert.ok(paths.every((p) => p && fs.existsSync(p)), "every endpoint serves a Unix socket");
  const out = await asNobody(`
    import * as net from "node:net";
    for (const p of process.argv.slice(2)) {
      const r = await new Promise((res) => { const s = net.connect(p); s.on("connect", () => { s.destroy(); res("connected"); }); s.on("error", (e) => res(e.code)); });
      console.log(r);
    }`, paths).done;
  assert.deepEqual(out.trim().split("\n"), paths.map(() => "EACCES"));
  assert.equal((fs.statSync(path.dirname(paths[0])).mode & 0o777).toString(8), "700");
});

test("a user squatting the endpoints' old abstract socket names learns nothing, and the cluster works on", async () => {
  let ready;
  const listening = new Promise((r) => (ready = r));
  const squatter = asNobody(`
    import * as net from "node:net";
    let conns = 0, bytes = 0, bound = 0;
    for (const a of process.argv.slice(2)) {
      const [h, p] = a.split(":");
      const s = net.createServer((c) => { conns++; c.on("data", (d) => (bytes += d.length)); });
      await new Promise((res) => { s.on("error", res); s.listen("\\0helios-wire-" + h + "-" + p, () => { bound++; res(); }); });
    }
    console.log("bound " + bound);
    process.stdin.on("data", () => {});
    process.stdin.on("end", () => { console.log("conns " + conns + " bytes " + bytes); process.exit(0); });`,
  endpoints, { onLine: (l) => l.startsWith("bound") && ready(l) });
  assert.equal(await listening, `bound ${endpoints.length}`);
  for (const a of endpoints) (await connect(a, token)).close();
  assert.equal(await get(remote((x) => x * 2).remote(21)), 42);
  squatter.child.stdin.end();
  assert.match(await squatter.done, /conns 0 bytes 0/);
});

test("the token is on no daemon's or worker's command line, and another user cannot read their environment", async () => {
  const daemons = execFileSync("ps", ["-eo", "pid=,args="]).toString().split("\n").filter((l) => /head\/main\.js|node-agent\/main\.js/.test(l));
  for (const pid of [...pids, ...daemons.map((l) => Number(l.trim().split(/\s+/)[0]))]) {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    assert.ok(!cmdline.includes(token), `pid ${pid}'s command line holds the token`);
  }
  const out = await asNobody(`
    import * as fs from "node:fs";
    for (const pid of process.argv.slice(2)) { try { fs.readFileSync("/proc/" + pid + "/environ"); console.log("read"); } catch (e) { console.log(e.code); } }`,
  pids.map(String)).done;
  assert.ok(out.trim().split("\n").every((l) => l === "EACCES"), out);
});

test("a socket directory made by another user is not used: peers talk TCP and say why", async () => {
  const dir = path.join(scratch, "planted");
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.chownSync(dir, Number(execFileSync("id", ["-u", "nobody"]).toString()), 0);
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", `
    const { socketPath } = await import(${JSON.stringify(new URL("../dist/src/rpc/local-socket.js", import.meta.url).href)});
    console.log(String(socketPath("127.0.0.1", 4242)));`], { env: { ...process.env, HELIOS_SOCKET_DIR: dir }, stdio: ["ignore", "pipe", "pipe"] });
  assert.equal(out.toString().trim(), "null");
  const child = spawn(process.execPath, ["--input-type=module", "-e", `
    const { socketPath } = await import(${JSON.stringify(new URL("../dist/src/rpc/local-socket.js", import.meta.url).href)});
    socketPath("127.0.0.1", 4242);`], { env: { ...process.env, HELIOS_SOCKET_DIR: dir }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  await new Promise((r) => child.on("exit", r));
  assert.match(err, /belongs to uid \d+, not to this user/);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test("a worker killed by a signal leaves no socket file behind: its agent removes it", async () => {
  const { waitFor } = await import("./helpers.mjs");
  const info = await cluster.agentInfo();
  const w = info.workers.find((x) => x.address && x.state === "idle") ?? info.workers.find((x) => x.address);
  const [h, p] = w.address.split(":");
  const file = socketPath(h, Number(p));
  assert.ok(fs.existsSync(file));
  process.kill(w.pid, "SIGKILL");
  await waitFor(() => !fs.existsSync(file), 10_000, `${file} to be removed`);
  assert.equal(await get(remote((x) => x + 1).remote(1)), 2);
});
