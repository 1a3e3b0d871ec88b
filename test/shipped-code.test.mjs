// runtimeEnv.workingDir ships the driver's project to every node, whose workers run it: the
// tarball is made in a private directory under HELIOS_HOME (never at a predictable name in the
// shared temp dir, where another user could read it or plant one first), removed once uploaded,
// stored by the head only when its bytes hash to its name, and unpacked by an agent only when
// what it downloaded hashes to that name and stays inside its directory.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as tar from "tar";
import { InvalidRequestError, PackageIntegrityError } from "helios";
import { RpcClient } from "../dist/src/rpc/grpc.js";
import { listFiles, packDir, uploadPackage, fetchPackage } from "../dist/src/cluster/package.js";
import { startCluster } from "./helpers.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const sha256 = (b) => createHash("sha256").update(b).digest("hex");
let cluster;
let scratch;
let project;
let head;

/** A small project that imports helios and carries a marker file. */
function makeProject() {
  const dir = fs.mkdtempSync(path.join(scratch, "project-"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "shipped", type: "module" }));
  fs.mkdirSync(path.join(dir, "node_modules"));
  fs.symlinkSync(root, path.join(dir, "node_modules/helios"));
  fs.writeFileSync(path.join(dir, "marker.txt"), "shipped");
  fs.writeFileSync(path.join(dir, "main.js"), `
import { init, get, remote, shutdown } from "helios";
import { runtime } from "${root}/dist/src/api.js";
await init({ runtimeEnv: { workingDir: "." } });
const read = remote(async () => (await import("node:fs")).readFileSync("marker.txt", "utf8"));
console.log("RESULT " + JSON.stringify({ marker: await get(read.remote()), jobId: runtime().core.config.jobId }));
await shutdown();
`);
  return dir;
}

/** The name the driver used to give the tarball in the temp dir: a hash of paths and contents. */
function oldPackageName(dir) {
  const h = createHash("sha256");
  for (const f of listFiles(dir)) {
    const full = path.join(dir, f);
    const st = fs.lstatSync(full);
    h.update(f + "\0" + (st.isSymbolicLink() ? "->" + fs.readlinkSync(full) : "")).update("\0");
    if (!st.isSymbolicLink()) h.update(fs.readFileSync(full));
  }
  return `helios-pkg-${h.digest("hex").slice(0, 24)}.tgz`;
}

/** Everything a head returns for a package, in one buffer. */
async function download(hash) {
  const parts = [];
  for (let offset = 0; ;) {
    const r = await head.call("getPackageChunk", { hash, offset, length: 1 << 20 });
    parts.push(Buffer.from(r.bytes));
    offset += r.bytes.length;
    if (offset >= r.size || r.bytes.length === 0) return Buffer.concat(parts);
  }
}

/** A head stand-in that serves `bytes` as any package. */
const fakeHead = (bytes) => ({
  call: async (method, r) => {
    assert.equal(method, "getPackageChunk");
    return { bytes: bytes.subarray(r.offset, r.offset + r.length), size: bytes.length };
  },
});

before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "helios-shipped-"));
  project = makeProject();
  cluster = await startCluster({ numCpus: 1 });
  head = new RpcClient(cluster.rt.core.config.headAddress, "Head", cluster.rt.core.config.token);
});

after(async () => {
  head?.close();
  await cluster?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

test("a driver shipping its working directory runs as before, uploads its own project, and leaves no tarball behind", async () => {
  const home = fs.mkdtempSync(path.join(scratch, "home-"));
  const tmp = fs.mkdtempSync(path.join(scratch, "tmp-"));
  // Another user's tarball at the name the driver used to reuse: it must be neither uploaded nor touched.
  const evil = fs.mkdtempSync(path.join(scratch, "evil-"));
  fs.writeFileSync(path.join(evil, "marker.txt"), "planted");
  const planted = path.join(tmp, oldPackageName(project));
  await tar.c({ gzip: true, cwd: evil, file: planted }, ["marker.txt"]);
  const plantedBytes = fs.readFileSync(planted);

  const { stdout, stderr } = await promisify(execFile)(process.execPath, ["main.js"], { cwd: project,
    env: { ...process.env, HELIOS_ADDRESS: cluster.rt.core.config.headAddress, HELIOS_TOKEN: cluster.rt.core.config.token,
      HELIOS_HOME: home, TMPDIR: tmp } });
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line, stdout + stderr);
  const { marker, jobId } = JSON.parse(line.slice(7));
  assert.equal(marker, "shipped");

  const job = await head.call("getJob", { jobId });
  assert.match(job.package, /^[0-9a-f]{64}$/);
  const bytes = await download(job.package);
  assert.equal(sha256(bytes), job.package, "the stored package hashes to its name");
  const unpacked = fs.mkdtempSync(path.join(scratch, "unpacked-"));
  fs.writeFileSync(path.join(unpacked, "p.tgz"), bytes);
  await tar.x({ file: path.join(unpacked, "p.tgz"), cwd: unpacked });
  assert.equal(fs.readFileSync(path.join(unpacked, "marker.txt"), "utf8"), "shipped", "the head got the project, not the planted tarball");

  // Only the planted file, and this user's socket directory (src/rpc/local-socket.ts).
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f !== `helios-${process.getuid()}`), [path.basename(planted)], "nothing of the driver's in the shared temp dir");
  assert.deepEqual(fs.readFileSync(planted), plantedBytes);
  assert.equal(fs.statSync(path.join(home, "packages")).mode & 0o777, 0o700);
  assert.deepEqual(fs.readdirSync(path.join(home, "packages")), [], "the tarball is removed once uploaded");
});

test("a packed directory is a 0600 file in a 0700 directory under HELIOS_HOME, gone after its upload (and a dead driver's with it)", async () => {
  const home = fs.mkdtempSync(path.join(scratch, "home-"));
  fs.mkdirSync(path.join(home, "packages"), { mode: 0o700 });
  const orphan = path.join(home, "packages", "999999999-0123456789abcdef.tgz");   // no process has that pid
  fs.writeFileSync(orphan, "left by a driver that was killed mid-upload");
  const was = process.env.HELIOS_HOME;
  process.env.HELIOS_HOME = home;
  let packed;
  try { packed = await packDir(project); } finally { if (was === undefined) delete process.env.HELIOS_HOME; else process.env.HELIOS_HOME = was; }
  assert.equal(path.dirname(packed.file), path.join(home, "packages"));
  assert.equal(fs.existsSync(orphan), false, "a dead driver's tarball is removed");
  assert.equal(fs.statSync(packed.file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(packed.file)).mode & 0o777, 0o700);
  assert.equal(sha256(fs.readFileSync(packed.file)), packed.hash);
  await uploadPackage(head, packed);
  assert.equal(fs.existsSync(packed.file), false);
  assert.equal((await head.call("hasPackage", { hash: packed.hash })).has, true);
});

test("the head refuses an upload whose bytes do not hash to the package's name", async () => {
  const real = Buffer.from("the real package");
  const hash = sha256(real);
  await assert.rejects(head.call("putPackageChunk", { hash, offset: 0, bytes: Buffer.from("something else!!"), last: true }),
    (e) => e instanceof PackageIntegrityError && /Tip: /.test(e.message));
  assert.equal((await head.call("hasPackage", { hash })).has, false);
  // A chunk whose predecessors never came is refused too, and the right bytes, in two chunks, are taken.
  await assert.rejects(head.call("putPackageChunk", { hash, offset: 8, bytes: real.subarray(8), last: true }), PackageIntegrityError);
  await head.call("putPackageChunk", { hash, offset: 0, bytes: real.subarray(0, 8), last: false });
  await head.call("putPackageChunk", { hash, offset: 8, bytes: real.subarray(8), last: true });
  assert.equal((await head.call("hasPackage", { hash })).has, true);
  assert.deepEqual(await download(hash), real);
});

test("the head refuses a package name that is not a hash", async () => {
  // Refused at the edge of the control plane (its schema), before the package code sees it.
  for (const hash of ["../../../../etc/hostname", "abc", "A".repeat(64), "/etc/passwd", ""]) {
    await assert.rejects(head.call("hasPackage", { hash }), InvalidRequestError, hash);
    await assert.rejects(head.call("putPackageChunk", { hash, offset: 0, bytes: Buffer.from("x"), last: true }), InvalidRequestError, hash);
    await assert.rejects(head.call("getPackageChunk", { hash, offset: 0, length: 10 }), InvalidRequestError, hash);
  }
});

test("an agent does not unpack a download that does not hash to the package's name", async () => {
  const into = path.join(scratch, "agent-packages-1");
  const bytes = fs.readFileSync(path.join(scratch, (await packInto(scratch)).name));
  const claimed = sha256(Buffer.from("another package"));
  await assert.rejects(fetchPackage(fakeHead(bytes), claimed, into), (e) => e instanceof PackageIntegrityError && /Tip: /.test(e.message));
  assert.deepEqual(fs.readdirSync(into), [], "nothing unpacked, nothing left");
  // The same bytes under their own name unpack, into a private directory.
  const dir = await fetchPackage(fakeHead(bytes), sha256(bytes), into);
  assert.equal(fs.readFileSync(path.join(dir, "marker.txt"), "utf8"), "shipped");
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(into).mode & 0o777, 0o700);
});

test("a package with an entry that climbs out of its directory is not unpacked", async () => {
  const base = fs.mkdtempSync(path.join(scratch, "climb-"));
  const inner = path.join(base, "a", "b");
  fs.mkdirSync(inner, { recursive: true });
  fs.writeFileSync(path.join(base, "a", "escape.txt"), "out");
  const file = path.join(base, "climb.tgz");
  await tar.c({ gzip: true, cwd: inner, file, preservePaths: true }, ["../escape.txt"]);
  const bytes = fs.readFileSync(file);
  const into = path.join(base, "packages");   // unpacked in a directory of its own in here: ../escape.txt would land here
  await assert.rejects(fetchPackage(fakeHead(bytes), sha256(bytes), into), PackageIntegrityError);
  assert.equal(fs.existsSync(path.join(into, "escape.txt")), false);
  assert.deepEqual(fs.readdirSync(into), []);
});

/** The test project packed into `dir` by tar directly; its file name. */
async function packInto(dir) {
  const name = "project.tgz";
  await tar.c({ gzip: true, cwd: project, file: path.join(dir, name), portable: true }, ["marker.txt", "package.json"]);
  return { name };
}
