import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startNetworkCluster } from "./cluster.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
let c;
let project;

/** A small user project: a module with a local helper and an npm import, and a driver script. */
function makeProject() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-project-"));
  const write = (rel, text) => { fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true }); fs.writeFileSync(path.join(dir, rel), text); };
  write("package.json", JSON.stringify({ name: "shipped-project", type: "module" }));
  write("node_modules/tiny-case/package.json", JSON.stringify({ name: "tiny-case", type: "module", main: "index.js" }));
  write("node_modules/tiny-case/index.js", "export const upper = (s) => s.toUpperCase();\n");
  fs.symlinkSync(root, path.join(dir, "node_modules/helios"));
  write("lib/helper.js", "export const exclaim = (s) => s + '!';\n");
  write("lib/tasks.js", `
import * as fs from "node:fs";
import { remote } from "helios";
import { upper } from "tiny-case";
import { exclaim } from "./helper.js";
export const shout = remote((word, originalDir) => ({
  text: exclaim(upper(word)),
  module: new URL(import.meta.url).pathname,
  cwd: process.cwd(),
  sawOriginal: fs.existsSync(originalDir + "/lib/tasks.js"),
}));
`);
  write("main.js", `
import { init, get, shutdown } from "helios";
import { shout } from "./lib/tasks.js";
await init({ runtimeEnv: { workingDir: "." } });
const r = await get(shout.options({ schedulingStrategy: { nodeId: process.argv[2] } }).remote("hello", process.cwd()));
console.log("RESULT " + JSON.stringify(r));
await shutdown();
`);
  return dir;
}

before(async () => {
  project = makeProject();
  c = await startNetworkCluster({ agents: { a: { hide: [project] } } });
});
after(async () => { await c?.stop(); fs.rmSync(project, { recursive: true, force: true }); });

test("a task from a module of the driver's project runs on an agent that cannot see the project", async () => {
  const r = await c.net.exec("driver", process.execPath, ["main.js", c.nodes.a.nodeId], {
    cwd: project, env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token } });
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line, r.stdout + r.stderr);
  const out = JSON.parse(line.slice(7));
  assert.equal(out.text, "HELLO!");                   // the npm import and the local helper worked
  assert.equal(out.sawOriginal, false);               // the agent's host cannot see the driver's directory
  assert.ok(!out.module.startsWith(project), `module ran from ${out.module}`);
  assert.ok(out.module.endsWith("/lib/tasks.js"));
  assert.match(out.cwd, /packages\/[0-9a-f]{64}$/);    // the unpacked package, named by its hash
  assert.equal(path.join(out.cwd, "lib/tasks.js"), out.module);
});
