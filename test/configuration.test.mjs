// HELIOS_* environment variables: all read through one module (src/config.ts), all listed in
// docs/configuration.md, and a value that does not parse stops the process that reads it at
// start, with a message naming the variable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { VARIABLES, setting, checkSettings } from "../dist/src/config.js";
import { InvalidArgumentError } from "helios";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const docs = fs.readFileSync(path.join(root, "docs/configuration.md"), "utf8");

/** The .ts files of the library and its daemons. */
function sources(dir = root, out = []) {
  for (const d of ["src", "head", "node-agent"]) walk(path.join(dir, d), out);
  return out;
}
function walk(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
}

/** The run of a node script: exit code and output. */
function run(args, env) {
  return new Promise((resolve) => execFile(process.execPath, args, { env: { ...process.env, ...env }, timeout: 30_000, cwd: root },
    (e, stdout, stderr) => resolve({ code: e ? e.code : 0, stdout, stderr })));
}

test("every HELIOS_ variable the code names is in the config module and in docs/configuration.md's table, and nothing else is", () => {
  const named = new Set();
  for (const file of sources()) for (const m of fs.readFileSync(file, "utf8").matchAll(/HELIOS_[A-Z0-9_]*[A-Z0-9]/g)) named.add(m[0]);
  named.delete("HELIOS_MEMORY");   // "HELIOS_MEMORY_*" in a comment
  const documented = new Set([...docs.matchAll(/^\| `(HELIOS_[A-Z0-9_]+)`/gm)].map((m) => m[1]));
  for (const name of named) {
    assert.ok(name in VARIABLES, `${name} is named in the source but not in src/config.ts`);
    assert.ok(documented.has(name), `${name} is not in docs/configuration.md's table`);
  }
  for (const name of Object.keys(VARIABLES)) assert.ok(documented.has(name), `${name} (src/config.ts) is not in docs/configuration.md's table`);
  for (const name of documented) assert.ok(name in VARIABLES, `docs/configuration.md lists ${name}, which src/config.ts does not know`);
  assert.ok(Object.keys(VARIABLES).length >= 40);
});

test("no module but src/config.ts reads a HELIOS_ variable from process.env", () => {
  for (const file of sources()) {
    if (file.endsWith(path.join("src", "config.ts"))) continue;
    const text = fs.readFileSync(file, "utf8");
    // Writes (tls.ts hands its files to child processes this way) are not reads.
    const reads = [...text.matchAll(/process\.env(?:\.HELIOS_\w+\b|\[[^\]]*HELIOS_[^\]]*\])(?!\s*=[^=])/g)].map((m) => m[0]);
    assert.deepEqual(reads, [], `${path.relative(root, file)} reads ${reads.join(", ")}; use setting() from src/config.ts`);
  }
});

test("the config module imports nothing but node built-ins and the errors (workers load it at start-up)", () => {
  const text = fs.readFileSync(path.join(root, "src/config.ts"), "utf8");
  const imports = [...text.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
  assert.deepEqual(imports.filter((i) => !i.startsWith("node:")), ["./errors.js"]);
});

test("a value is read when asked for, defaults when unset or empty, and a bad one names the variable", () => {
  const env = {};
  assert.equal(setting("HELIOS_HEARTBEAT_MS", env), 1000);
  assert.equal(setting("HELIOS_HEARTBEAT_MS", { HELIOS_HEARTBEAT_MS: "" }), 1000);
  assert.equal(setting("HELIOS_HEARTBEAT_MS", { HELIOS_HEARTBEAT_MS: "250" }), 250);
  assert.equal(setting("HELIOS_HEAD_FSYNC", { HELIOS_HEAD_FSYNC: "always" }), "always");
  assert.deepEqual(setting("HELIOS_WORKER_NODE_FLAGS", { HELIOS_WORKER_NODE_FLAGS: " --cpu-prof  --expose-gc" }), ["--cpu-prof", "--expose-gc"]);
  process.env.HELIOS_MAX_LINEAGE = "7";   // set after the module loaded
  try { assert.equal(setting("HELIOS_MAX_LINEAGE"), 7); } finally { delete process.env.HELIOS_MAX_LINEAGE; }
  const cases = [["HELIOS_HEARTBEAT_MS", "1s", /must be a number of milliseconds above 0/], ["HELIOS_HEARTBEAT_MS", "0", /above 0/],
    ["HELIOS_PORT", "70000", /a port number from 0 to 65535/], ["HELIOS_HEAD_FSYNC", "sometimes", /"interval" or "always"/],
    ["HELIOS_WORKER_PORTS", "20000:20999", /a port range such as 20000-20999/], ["HELIOS_RESOURCES", "{CPU:2}", /must be JSON/],
    ["HELIOS_HELD_BYTES", "1e3.5", /whole number of bytes/], ["HELIOS_MEMORY_THRESHOLD", "95", /a fraction in \(0, 1\]/]];
  for (const [name, raw, want] of cases) {
    assert.throws(() => setting(name, { [name]: raw }), (e) => {
      assert.ok(e instanceof InvalidArgumentError, `${e?.name}: ${e?.message}`);
      assert.match(e.message, new RegExp(`^${name} must be`));
      assert.match(e.message, want);
      assert.ok(e.message.includes(JSON.stringify(raw)), e.message);
      assert.match(e.message, /Tip: .*docs\/configuration\.md/);
      return true;
    });
    assert.throws(() => checkSettings(VARIABLES[name].readers[0], { env: { [name]: raw } }), new RegExp(name));
  }
  checkSettings(["driver", "worker", "head", "agent", "cli"], { env: {} });
});

test("a driver with a bad value fails at init(), naming it, for its own variables and its local cluster's", async () => {
  const script = `import { init, shutdown } from "helios";
    try { await init({ numCpus: 1 }); console.log("started"); await shutdown(); } catch (e) { console.log(e.name + ": " + e.message); }`;
  const agentVar = await run(["--input-type=module", "-e", script], { HELIOS_HEARTBEAT_MS: "1s" });
  assert.match(agentVar.stdout, /InvalidArgumentError: HELIOS_HEARTBEAT_MS must be a number of milliseconds above 0, e.g. 1000, got "1s"/);
  const driverVar = await run(["--input-type=module", "-e", script], { HELIOS_DRIVER_PORTS: "many" });
  assert.match(driverVar.stdout, /InvalidArgumentError: HELIOS_DRIVER_PORTS must be a port range/);
  // Read as helios loads: the import itself fails, naming it.
  const atImport = await run(["--input-type=module", "-e", script], { HELIOS_GRPC_IDLE_MS: "never" });
  assert.notEqual(atImport.code, 0);
  assert.match(atImport.stderr, /HELIOS_GRPC_IDLE_MS must be a number of milliseconds above 0, e\.g\. 60000, got "never"/);
});

test("a head or node agent started with a bad value exits at once, naming it", async () => {
  const head = await run([path.join(root, "dist/head/main.js")], { HELIOS_HEALTH_TIMEOUT_MS: "-5", HELIOS_TOKEN: "t" });
  assert.equal(head.code, 1);
  assert.match(head.stderr, /^helios head: HELIOS_HEALTH_TIMEOUT_MS must be a number of milliseconds above 0/m);
  const agent = await run([path.join(root, "dist/node-agent/main.js")], { HELIOS_MEMORY_LIMIT_BYTES: "2GB", HELIOS_TOKEN: "t", HELIOS_HEAD: "127.0.0.1:1" });
  assert.equal(agent.code, 1);
  assert.match(agent.stderr, /^helios agent: HELIOS_MEMORY_LIMIT_BYTES must be a positive whole number of bytes/m);
});
