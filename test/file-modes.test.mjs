// Stored objects are this user's alone: the store and spill directories are 0700, object files
// and the store's own files 0600, another local user can neither list nor read them, and a
// directory of the expected name made first by another user is refused, not used.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { remote, get, UnsafeDirectoryError } from "helios";
import { runtime } from "../dist/src/api.js";
import { privateDir } from "../dist/src/cluster/private-dir.js";
import { startCluster, waitFor } from "./helpers.mjs";

const KB = 1024;
let cluster;
let spillBase;
let storeDir;
let spillDir;
let scratch;

before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "helios-modes-"));
  fs.chmodSync(scratch, 0o755);   // others may enter: what keeps them out is each directory's own mode
  spillBase = path.join(scratch, "spill");
  fs.mkdirSync(spillBase, { mode: 0o755 });
  process.umask(0o022);   // the usual umask, which leaves new files readable by all unless Helios says otherwise
  cluster = await startCluster({ objectStoreMemory: 512 * KB, spillDir: spillBase });
  storeDir = runtime().core.config.storeDir;
  spillDir = path.join(spillBase, `helios-spill-${runtime().core.config.nodeId}`);
});

after(async () => {
  await cluster?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A 200 KB value made by a task: stored in the node's object store (a put() would stay in the driver's memory). */
const block = remote((i) => new Uint8Array(200 * 1024).fill(i));
const mode = (p) => fs.statSync(p).mode & 0o777;
const objectFiles = (dir) => fs.readdirSync(dir).filter((n) => !n.startsWith("."));
/** Run `cmd` as the unprivileged user nobody; its exit status. */
const asNobody = (...cmd) => spawnSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", ...cmd], { stdio: "ignore" }).status;

test("the object store and spill directories are 0700 and every file in them 0600", async () => {
  // 4 x 200 KB into a 512 KB store: some stay in memory, the oldest spill to disk.
  const refs = Array.from({ length: 4 }, (_, i) => block.remote(i));
  await waitFor(() => fs.existsSync(spillDir) && objectFiles(spillDir).length > 0 && objectFiles(storeDir).length > 0, 10_000,
    "objects both in memory and spilled");
  assert.equal(mode(storeDir), 0o700, storeDir);
  assert.equal(mode(spillDir), 0o700, spillDir);
  for (const dir of [storeDir, spillDir]) {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) assert.equal(mode(p), 0o700, p);
      else assert.equal(mode(p), 0o600, p);
    }
  }
  const values = await get(refs);
  values.forEach((v, i) => assert.equal(v[0], i));
});

test("another local user can neither list the store nor read an object in memory or spilled", async () => {
  const refs = Array.from({ length: 4 }, (_, i) => block.remote(i));
  await waitFor(() => fs.existsSync(spillDir) && objectFiles(spillDir).length > 0 && objectFiles(storeDir).length > 0, 10_000,
    "objects both in memory and spilled");
  const inMemory = path.join(storeDir, objectFiles(storeDir)[0]);
  const spilled = path.join(spillDir, objectFiles(spillDir)[0]);
  assert.equal(asNobody("true"), 0, "setpriv runs a command as nobody");
  assert.notEqual(asNobody("cat", inMemory), 0, `nobody read ${inMemory}`);
  assert.notEqual(asNobody("cat", spilled), 0, `nobody read ${spilled}`);
  assert.notEqual(asNobody("ls", storeDir), 0, `nobody listed ${storeDir}`);
  assert.notEqual(asNobody("ls", spillDir), 0, `nobody listed ${spillDir}`);
  assert.equal((await get(refs[0]))[0], 0);
});

test("a directory of the expected name that another user made first is refused with a tip", () => {
  const planted = path.join(scratch, "planted");
  fs.mkdirSync(planted);
  fs.chmodSync(planted, 0o777);
  fs.chownSync(planted, 65534, 65534);   // nobody's
  fs.writeFileSync(path.join(planted, ".store.json"), JSON.stringify({ capacity: 1, spillDir: "/" }));
  assert.throws(() => privateDir(planted, "the object store directory"), (e) =>
    e instanceof UnsafeDirectoryError && /belongs to user 65534/.test(e.message) && /Tip: /.test(e.message));
  assert.equal(mode(planted), 0o777, "the planted directory is left as it was");
});

test("an agent whose directory belongs to another user refuses to start, and says why", async () => {
  const planted = path.join(scratch, "planted-session");
  fs.mkdirSync(planted);
  fs.chmodSync(planted, 0o777);
  fs.chownSync(planted, 65534, 65534);
  const agent = spawn(process.execPath, [path.resolve("dist/node-agent/main.js")], { stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, HELIOS_SESSION_DIR: planted, HELIOS_HEAD: "127.0.0.1:1", HELIOS_TOKEN: "t", HELIOS_JOB: "" } });
  let stderr = "";
  agent.stderr.on("data", (d) => { stderr += d; });
  const timer = setTimeout(() => agent.kill("SIGKILL"), 10_000);
  const code = await new Promise((resolve) => agent.once("exit", resolve));
  clearTimeout(timer);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /session directory .* belongs to user 65534.*Tip: /s);
  assert.deepEqual(fs.readdirSync(planted), [], "nothing written into it");
});

test("a symbolic link where a private directory belongs is refused, not followed", () => {
  const target = fs.mkdtempSync(path.join(scratch, "target-"));
  const link = path.join(scratch, "link");
  fs.symlinkSync(target, link);
  assert.throws(() => privateDir(link, "the object spill directory"), (e) =>
    e instanceof UnsafeDirectoryError && /symbolic link/.test(e.message));
});

test("this user's own directory that is too open is narrowed to 0700, and a new one is made 0700 whatever the umask", () => {
  const open = path.join(scratch, "open");
  fs.mkdirSync(open, { mode: 0o777 });
  fs.chmodSync(open, 0o777);
  privateDir(open, "the object store directory");
  assert.equal(mode(open), 0o700);
  const before = process.umask(0);
  try { privateDir(path.join(scratch, "fresh", "store"), "the object store directory"); } finally { process.umask(before); }
  assert.equal(mode(path.join(scratch, "fresh", "store")), 0o700);
});
