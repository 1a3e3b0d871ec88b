// One command for the whole Celery pattern: start a cluster with the helios CLI, register the
// service from one script, call it by name from another, stop the cluster.
//   node examples/celery/run.mjs
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "../../dist/src/cli.js");
const home = fs.mkdtempSync(path.join(os.tmpdir(), "helios-celery-"));
const env = { ...process.env, HELIOS_HOME: home };
const node = (args, extra = {}) => execFileSync(process.execPath, args, { env: { ...env, ...extra }, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
try {
  const started = node([cli, "start", "--head", "--num-cpus", "2"]);
  const address = /head at (\S+) /.exec(started)[1];
  const token = fs.readFileSync(path.join(home, "token"), "utf8").trim();
  const cluster = { HELIOS_ADDRESS: address, HELIOS_TOKEN: token };
  process.stdout.write(node([path.join(here, "service.mjs")], cluster));
  process.stdout.write(node([path.join(here, "client.mjs")], cluster));
} finally {
  node([cli, "stop"]);
  fs.rmSync(home, { recursive: true, force: true });
}
