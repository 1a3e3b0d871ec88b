// The head's storage (head/store.ts) when its log is damaged: only a torn tail is cut; a bad
// record in the middle is skipped, the records after it load, and the report says where.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HeadStore } from "../dist/head/store.js";

const base = fs.mkdtempSync(path.join(os.tmpdir(), "helios-head-store-test-"));
after(() => fs.rmSync(base, { recursive: true, force: true }));

let n = 0;
const freshDir = () => path.join(base, `store-${n++}`);
const logOf = (dir) => path.join(dir, "tables.log");

/** Six records, one per key; returns the offset where each record starts in the log. */
function fill(dir) {
  const s = HeadStore.open(dir);
  const offsets = [];
  const put = (table, key, value) => { offsets.push(fs.statSync(logOf(dir)).size); s.put(table, key, value); };
  put("nodes", "n1", { nodeId: "n1", state: "ALIVE", resources: { CPU: 2 } });
  put("actors", "a1", { actorId: "a1", name: "keeper", detached: true, state: "ALIVE" });
  put("jobs", "j1", { jobId: "j1", execArgv: [] });
  put("kv", "ns\0config", new Uint8Array([1, 2, 3]));
  put("kv", "ns\0flag", new Uint8Array([4]));
  put("actors", "a2", { actorId: "a2", state: "ALIVE" });
  s.close();
  return offsets;
}

function open(dir) {
  const warnings = [];
  const s = HeadStore.open(dir, { warn: (m) => warnings.push(m) });
  return { s, warnings: warnings.join("\n") };
}

const keys = (s) => ({ nodes: [...s.table("nodes").keys()], actors: [...s.table("actors").keys()], jobs: [...s.table("jobs").keys()], kv: [...s.table("kv").keys()] });

test("one flipped byte in the 2nd record loses that record only: every other record loads and the report names its offset", () => {
  const dir = freshDir();
  const offsets = fill(dir);
  const log = fs.readFileSync(logOf(dir));
  log[offsets[1] + 20] ^= 0xff;   // inside the payload of a1
  fs.writeFileSync(logOf(dir), log);
  const { s, warnings } = open(dir);
  try {
    assert.deepEqual(keys(s), { nodes: ["n1"], actors: ["a2"], jobs: ["j1"], kv: ["ns\0config", "ns\0flag"] });
    assert.deepEqual([...s.table("kv").get("ns\0config")], [1, 2, 3]);
    assert.deepEqual(s.loadReport.skipped, [{ offset: offsets[1], bytes: offsets[2] - offsets[1], reason: "checksum mismatch" }]);
    assert.equal(s.loadReport.records, 5);
    assert.match(warnings, new RegExp(`skipped a corrupt record at offset ${offsets[1]} `));
    assert.deepEqual(fs.readFileSync(s.loadReport.savedAs), log, "the damaged log is kept aside, byte for byte");
    assert.match(warnings, new RegExp(s.loadReport.savedAs.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    s.put("actors", "a3", { actorId: "a3", state: "ALIVE" });
  } finally { s.close(); }
  // The log was rewritten without the bad record: the next start is clean and has everything.
  const again = open(dir);
  try {
    assert.deepEqual(again.s.loadReport.skipped, []);
    assert.equal(again.warnings, "");
    assert.deepEqual(keys(again.s).actors, ["a2", "a3"]);
    assert.deepEqual(keys(again.s).kv, ["ns\0config", "ns\0flag"]);
  } finally { again.s.close(); }
});

test("a flipped byte in a record's length is skipped by scanning forward to the next valid record", () => {
  const dir = freshDir();
  const offsets = fill(dir);
  const log = fs.readFileSync(logOf(dir));
  log[offsets[2] + 1] ^= 0x01;   // j1's length now reaches far past its end
  fs.writeFileSync(logOf(dir), log);
  const { s } = open(dir);
  try {
    assert.deepEqual(keys(s), { nodes: ["n1"], actors: ["a1", "a2"], jobs: [], kv: ["ns\0config", "ns\0flag"] });
    assert.equal(s.loadReport.skipped.length, 1);
    assert.equal(s.loadReport.skipped[0].offset, offsets[2]);
    assert.equal(s.loadReport.skipped[0].bytes, offsets[3] - offsets[2]);
  } finally { s.close(); }
});

test("garbage written into the middle of the log is skipped and the records after it are kept", () => {
  const dir = freshDir();
  const offsets = fill(dir);
  const log = fs.readFileSync(logOf(dir));
  const garbage = Buffer.concat([Buffer.from("not a record at all, \u0000\u0001 some junk"), Buffer.alloc(64), Buffer.from([200, 0, 0, 0, 9, 9, 9, 9])]);
  fs.writeFileSync(logOf(dir), Buffer.concat([log.subarray(0, offsets[3]), garbage, log.subarray(offsets[3])]));
  const { s, warnings } = open(dir);
  try {
    assert.deepEqual(keys(s), { nodes: ["n1"], actors: ["a1", "a2"], jobs: ["j1"], kv: ["ns\0config", "ns\0flag"] });
    assert.deepEqual(s.loadReport.skipped.map((r) => [r.offset, r.bytes]), [[offsets[3], garbage.length]]);
    assert.match(warnings, /records after it were loaded/);
  } finally { s.close(); }
});

test("a torn last record is still cut off the file, and nothing is reported as skipped", () => {
  const dir = freshDir();
  const offsets = fill(dir);
  const size = fs.statSync(logOf(dir)).size;
  fs.truncateSync(logOf(dir), size - 5);   // the head died in the middle of writing a2
  const { s, warnings } = open(dir);
  try {
    assert.deepEqual(keys(s).actors, ["a1"]);
    assert.equal(fs.statSync(logOf(dir)).size, offsets[5], "the torn bytes are cut");
    assert.deepEqual(s.loadReport.skipped, []);
    assert.deepEqual(s.loadReport.torn, { offset: offsets[5], bytes: size - 5 - offsets[5] });
    assert.match(warnings, /dropped \d+ byte\(s\) after offset \d+/);
    assert.ok(!fs.readdirSync(dir).some((f) => f.includes("corrupt")), "no copy kept for a torn write");
  } finally { s.close(); }
});

test("records a previous head wrote with keys that are not strings are skipped, and the records after them load", async () => {
  const dir = freshDir();
  fill(dir);
  // What a head without request validation wrote for registerJob({ jobId: undefined / null / {} }).
  const { Packr } = await import("msgpackr");
  const { crc32 } = await import("node:zlib");
  const packr = new Packr({ useRecords: false, moreTypes: true });
  const frame = (rec) => {
    const payload = packr.pack(rec);
    const b = Buffer.alloc(8 + payload.length);
    b.writeUInt32LE(payload.length, 0);
    b.writeUInt32LE(crc32(payload), 4);
    payload.copy(b, 8);
    return b;
  };
  fs.appendFileSync(logOf(dir), Buffer.concat([frame(["jobs", undefined, {}]), frame(["jobs", null, {}]), frame(["jobs", {}, {}]),
    frame(["jobs", "j2", { jobId: "j2", execArgv: [] }])]));
  const { s } = open(dir);
  try {
    assert.deepEqual(keys(s).jobs, ["j1", "j2"], "the valid job after the junk is there");
    assert.equal(s.loadReport.skipped.length, 3);
    assert.match(s.loadReport.skipped[1].reason, /key is null/);
  } finally { s.close(); }
});

test("put refuses a key that is not a non-empty string, and writes nothing", () => {
  const dir = freshDir();
  const s = HeadStore.open(dir);
  try {
    for (const key of [undefined, null, {}, "", 42]) {
      assert.throws(() => s.put("jobs", key, { jobId: key }), (e) => e instanceof TypeError && /non-empty strings/.test(e.message) && /Tip: /.test(e.message));
    }
    assert.throws(() => s.put("tables", "k", {}), TypeError);
    assert.equal(fs.statSync(logOf(dir)).size, 0);
  } finally { s.close(); }
});

test("a head started on a log with a corrupt record says so, and helios status warns naming the offset", async () => {
  const { spawn, execFile } = await import("node:child_process");
  const { once } = await import("node:events");
  const { createInterface } = await import("node:readline");
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const dir = freshDir();
  const s = HeadStore.open(dir);
  const offsets = [];
  for (const key of ["a", "b", "c"]) { offsets.push(fs.statSync(logOf(dir)).size); s.put("kv", `ns\0${key}`, new Uint8Array([1])); }
  s.close();
  const log = fs.readFileSync(logOf(dir));
  log[offsets[1] + 4] ^= 0x10;   // b's checksum
  fs.writeFileSync(logOf(dir), log);

  const env = { ...process.env, HELIOS_TOKEN: "t", HELIOS_HEAD_STORAGE: dir, HELIOS_PORT: "0", HELIOS_PARENT: "", HELIOS_HOME: path.join(base, "home") };
  delete env.HELIOS_JOB;
  const proc = spawn(process.execPath, [path.join(root, "dist/head/main.js")], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.setEncoding("utf8").on("data", (d) => { stderr += d; });
  try {
    const [line] = await once(createInterface({ input: proc.stdout }), "line");
    const info = JSON.parse(line);
    assert.equal(info.loaded.skipped, 1);
    assert.match(stderr, new RegExp(`skipped a corrupt record at offset ${offsets[1]} `));
    const out = await new Promise((resolve) => execFile(process.execPath, [path.join(root, "dist/src/cli.js"), "status", "--address", info.address, "--token", "t"],
      { env, timeout: 30_000 }, (_e, stdout, err) => resolve(stdout + err)));
    assert.match(out, /0 node\(s\)/);
    assert.match(out, new RegExp(`Warning: the head skipped 1 corrupt record\\(s\\) of its storage ${dir} when it started, at offset ${offsets[1]} \\(\\d+ bytes: checksum mismatch\\)`));
    assert.match(out, /tables\.log\.corrupt-/);
  } finally {
    proc.kill("SIGTERM");
    await once(proc, "exit");
  }
});
