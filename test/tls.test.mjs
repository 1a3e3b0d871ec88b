import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-tls-"));
const token = "tls-test-token";
const procs = [];
let headAddress;

/** A CA, and a certificate it signs for 127.0.0.1 (used as both server and client certificate). */
function makeCa(name) {
  const f = (x) => path.join(dir, `${name}-${x}`);
  const ssl = (...a) => execFileSync("openssl", a, { stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name} CA`, "-keyout", f("ca.key"), "-out", f("ca.pem"));
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", f("key.pem"), "-out", f("csr.pem"));
  fs.writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  ssl("x509", "-req", "-in", f("csr.pem"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f("ext.cnf"), "-out", f("cert.pem"));
  return { HELIOS_TLS_CERT: f("cert.pem"), HELIOS_TLS_KEY: f("key.pem"), HELIOS_TLS_CA: f("ca.pem") };
}

function daemon(script, env) {
  const p = spawn(process.execPath, [path.join(root, script)], { env: { ...process.env, HELIOS_TOKEN: token, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  procs.push(p);
  return new Promise((resolve, reject) => {
    p.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
    createInterface({ input: p.stdout }).once("line", (l) => resolve(JSON.parse(l)));
  });
}

/** A driver script joining the cluster with the given TLS settings; resolves its output. */
function driver(tlsEnv, script) {
  const env = { ...process.env, HELIOS_ADDRESS: headAddress, HELIOS_TOKEN: token, HELIOS_TLS_CERT: "", HELIOS_TLS_KEY: "", HELIOS_TLS_CA: "", ...tlsEnv };
  for (const k of Object.keys(env)) if (env[k] === "") delete env[k];
  try {
    return { ok: true, out: execFileSync(process.execPath, ["--input-type=module", "-e", script], { env, cwd: root, encoding: "utf8", timeout: 60_000, stdio: "pipe" }) };
  } catch (e) { return { ok: false, out: `${e.stdout}\n${e.stderr}` }; }
}

const job = `
import { init, remote, get, shutdown } from "helios";
try {
  await init();
  const f = remote((x) => x * 2);
  console.log("answer=" + await get(f.remote(21)));
  await shutdown();
} catch (e) { console.log("failed: " + e.name + ": " + e.message); process.exit(3); }`;

let trusted, stranger;
before(async () => {
  trusted = makeCa("cluster");
  stranger = makeCa("other");
  const head = await daemon("dist/head/main.js", { ...trusted, HELIOS_SESSION_DIR: dir });
  headAddress = head.address;
  await daemon("dist/node-agent/main.js", { ...trusted, HELIOS_HEAD: headAddress, HELIOS_RESOURCES: '{"CPU":1}', HELIOS_SESSION_DIR: dir });
});
after(() => {
  for (const p of procs) p.kill("SIGTERM");
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a driver with a certificate from the cluster's CA runs tasks over TLS", () => {
  const r = driver(trusted, job);
  assert.ok(r.ok, r.out);
  assert.match(r.out, /answer=42/);
});

test("a driver with a certificate from another CA is refused", () => {
  const r = driver(stranger, job);
  assert.equal(r.ok, false);
  assert.doesNotMatch(r.out, /answer=/);
});

test("a driver without TLS is refused", () => {
  const r = driver({}, job);
  assert.equal(r.ok, false);
  assert.doesNotMatch(r.out, /answer=/);
});

test("the daemons keep serving after refused connections", () => {
  const r = driver(trusted, job);
  assert.match(r.out, /answer=42/);
});
