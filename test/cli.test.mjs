// The `helios` command line: start a head and agents as background daemons, status, stop.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { alive, waitFor } from "./helpers.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist/src/cli.js");
const home = fs.mkdtempSync(path.join(os.tmpdir(), "helios-cli-test-"));
const env = { ...process.env, HELIOS_HOME: home };
for (const k of ["HELIOS_ADDRESS", "HELIOS_TOKEN", "HELIOS_PARENT", "HELIOS_DEBUG"]) delete env[k];

/** Run `helios ...args`; resolves with its exit code and output (never rejects on a non-zero exit). */
function helios(...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }));
  });
}

const daemonsFile = path.join(home, "daemons.json");
const started = new Set();   // every daemon pid this file started, for the checks and the cleanup
function recordPids() {
  const d = JSON.parse(fs.readFileSync(daemonsFile, "utf8"));
  for (const r of [d.head, ...d.agents].filter(Boolean)) started.add(r.pid);
  return d;
}
const isDaemon = (pid) => {
  try { return /(head|node-agent)\/main\.js/.test(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")); } catch { return alive(pid); }
};

let address;
let token;

after(async () => {
  await helios("stop");
  for (const pid of started) if (isDaemon(pid)) process.kill(pid, "SIGKILL");   // only if stop failed
  fs.rmSync(home, { recursive: true, force: true });
});

test("start --head prints the address, the token file and the join command", async () => {
  const r = await helios("start", "--head", "--num-cpus", "2", "--resources", '{"widget":3}', "--labels", "zone=a", "--object-store-memory", "64000000");
  assert.equal(r.code, 0, r.stderr);
  address = /head at (\S+:\d+)/.exec(r.stdout)?.[1];
  assert.ok(address, r.stdout);
  const tokenFile = path.join(home, "token");
  token = fs.readFileSync(tokenFile, "utf8").trim();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
  assert.equal(fs.statSync(home).mode & 0o777, 0o700);
  assert.ok(r.stdout.includes(tokenFile), r.stdout);
  assert.ok(!r.stdout.includes(token), "the token is never printed (a command line shows it to every user in ps)");
  assert.ok(r.stdout.includes(`helios start --address ${address} --token-file ${tokenFile}`), r.stdout);
  assert.ok(r.stdout.includes(`HELIOS_ADDRESS=${address} HELIOS_TOKEN_FILE=${tokenFile} helios start`), r.stdout);
  assert.ok(r.stdout.includes(`init({ address: "${address}" })`), r.stdout);
  const d = recordPids();
  assert.equal(d.head.address, address);
  assert.equal(d.agents.length, 1);
  for (const pid of started) assert.ok(isDaemon(pid), `daemon ${pid} is not running`);
});

test("status lists the node with its resources", async () => {
  const r = await helios("status");
  assert.equal(r.code, 0, r.stderr);
  const { nodeId } = recordPids().agents[0];
  const line = r.stdout.split("\n").find((l) => l.startsWith(nodeId));
  assert.ok(line, r.stdout);
  assert.match(line, /ALIVE/);
  assert.match(line, /\b0\/2\b/);         // CPU used/total
  assert.match(line, /widget 0\/3/);
  assert.match(line, /\b0 B\/64 MB\b/);   // object store: in memory/capacity
  assert.match(line, /zone=a/);
});

/** A copy of the token, as another machine would hold it, with the given mode. */
function tokenCopy(name, mode) {
  const file = path.join(home, name);
  fs.writeFileSync(file, token + "\n", { mode });
  fs.chmodSync(file, mode);
  return file;
}

test("start --address refuses a token file that other users can read, and says how to fix it", async () => {
  const file = tokenCopy("token-shared", 0o644);
  const r = await helios("start", "--address", address, "--token-file", file, "--num-cpus", "1");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--token-file: the token file .*token-shared can be read or changed by other users \(mode 644\)/);
  assert.match(r.stderr, new RegExp(`Tip: chmod 600 ${file}`));
  assert.equal(recordPids().agents.length, 1, "no agent started");
  const missing = await helios("start", "--address", address, "--token-file", path.join(home, "nope"));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read the token file .*nope \(ENOENT\)/);
});

test("start --address joins a second agent to the head, with the token from --token-file", async () => {
  const r = await helios("start", "--address", address, "--token-file", tokenCopy("token-copy", 0o600), "--num-cpus", "1", "--labels", "zone=b");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Started a node agent/);
  assert.equal(recordPids().agents.length, 2);
  const s = await helios("status", "--address", address);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /2 node\(s\), 2 alive/);
  assert.equal(s.stdout.split("\n").filter((l) => /\bALIVE\b/.test(l)).length, 2, s.stdout);
  assert.match(s.stdout, /zone=b/);
});

test("status with a wrong token says so", async () => {
  const r = await helios("status", "--address", address, "--token", "not-the-token");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /wrong or missing token/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  const unreachable = await helios("status", "--address", "127.0.0.1:1", "--token", token);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach the Helios head at 127\.0\.0\.1:1/);
});

test("stop ends every daemon it started and leaves no process", async () => {
  assert.equal(started.size, 3);
  const r = await helios("stop");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.match(/Stopped the/g)?.length, 3, r.stdout);
  await waitFor(() => [...started].every((pid) => !isDaemon(pid)), 5000, "the daemons to exit");
  assert.ok(!fs.existsSync(daemonsFile));
  const again = await helios("stop");
  assert.equal(again.code, 0);
  assert.match(again.stdout, /nothing to stop/);
});

test("--help works on every command", async () => {
  for (const cmd of [[], ["start"], ["status"], ["stop"]]) {
    const r = await helios(...cmd, "--help");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Usage: helios ${cmd.join(" ")}`));
  }
  const startHelp = (await helios("start", "--help")).stdout.replace(/\s+/g, " ");
  assert.match(startHelp, /--token <token> cluster token; other users see it in `ps`, so prefer --token-file/);
  assert.match(startHelp, /--token-file <file> file holding the cluster token, readable only by you/);
  const v = await helios("--version");
  assert.equal(v.stdout.trim(), JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version);
  const bad = await helios("start");
  assert.notEqual(bad.code, 0);
  assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  assert.match(bad.stderr, /--head .* --address/);
});

test("status prints a node's object store: in memory/capacity and what spilled", async () => {
  const { formatStatus, formatBytes } = await import("../dist/src/cluster/daemons.js");
  assert.deepEqual([0, 999, 1000, 1_234_567, 64e6, 7.5e9].map(formatBytes), ["0 B", "999 B", "1 KB", "1.2 MB", "64 MB", "7.5 GB"]);
  const node = { nodeId: "n1", agentAddress: "10.0.0.2:7000", state: "ALIVE", resources: { CPU: 2 }, available: { CPU: 1 }, labels: {} };
  const out = formatStatus("h:1", [
    { ...node, store: { capacity: 8e9, usedBytes: 6.4e9, spilledObjects: 3, spilledBytes: 2.5e9 } },
    { ...node, nodeId: "n2" },
    { ...node, nodeId: "n3", state: "DEAD" },
  ]);
  const line = (id) => out.split("\n").find((l) => l.startsWith(id));
  assert.match(line("n1"), /6\.4 GB\/8 GB, 3 spilled \(2\.5 GB\)/);
  assert.match(line("n2"), /\s\?\s/);   // its agent did not answer
  assert.match(line("n3"), /DEAD/);
  assert.match(out, /OBJECT STORE/);
});
