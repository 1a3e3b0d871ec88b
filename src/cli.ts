#!/usr/bin/env node
// The `helios` command: start, inspect and stop the daemons of a cluster. Flags only;
// the work is done in cluster/daemons.ts.
import { setTlsFiles } from "./rpc/tls.js";
import { Command, InvalidArgumentError, Option } from "commander";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { clusterStatus, formatStatus, formatStorageWarning, headStorage, readDaemons, readTokenFile, startAgent, startHead, stopDaemons, tokenFile } from "./cluster/daemons.js";
import { checkToken } from "./options.js";
import { readTokenFile as readTokenFileAt } from "./token.js";
import { setting } from "./config.js";

const here = path.dirname(fileURLToPath(import.meta.url));
// src/ or dist/src/: package.json sits at the package root.
const pkgFile = [path.resolve(here, "../package.json"), path.resolve(here, "../../package.json")].find((p) => fs.existsSync(p))!;
const version: string = JSON.parse(fs.readFileSync(pkgFile, "utf8")).version;

const count = (flag: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a number ≥ 0.`);
  return n;
};
const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("the port must be an integer from 0 to 65535.");
  return n;
};
const addressOption = () => new Option("--address <host:port>", "address of the cluster's head").env("HELIOS_ADDRESS");
const tokenOption = () => new Option("--token <token>", "cluster token; other users see it in `ps`, so prefer --token-file (default: $HELIOS_HOME/token)").env("HELIOS_TOKEN");
const tokenFileOption = () => new Option("--token-file <file>", "file holding the cluster token, readable only by you (chmod 600)").env("HELIOS_TOKEN_FILE");

/** The token given as --token or --token-file (undefined: the default file, or a new one for a new cluster). */
function givenToken(o: { token?: string; tokenFile?: string }): string | undefined {
  if (o.token !== undefined && o.tokenFile !== undefined) throw new Error("pass either --token or --token-file, not both");
  if (o.token !== undefined) return checkToken(o.token, "--token");
  return o.tokenFile !== undefined ? readTokenFileAt(path.resolve(o.tokenFile), "--token-file") : undefined;
}

const program = new Command()
  .name("helios")
  .description("Start, inspect and stop a Helios cluster.")
  .version(version, "-V, --version", "print the Helios version")
  .showHelpAfterError("(run with --help for usage)")
  .addOption(new Option("--tls-cert <file>", "this machine's certificate (PEM), signed by the cluster CA").env("HELIOS_TLS_CERT"))
  .addOption(new Option("--tls-key <file>", "the private key of --tls-cert (PEM)").env("HELIOS_TLS_KEY"))
  .addOption(new Option("--tls-ca <file>", "the cluster CA (PEM): peers must present a certificate it signed").env("HELIOS_TLS_CA"))
  .hook("preAction", (cmd) => {
    // Daemons started from here inherit the TLS files through the environment.
    const o = cmd.opts();
    if (o.tlsCert || o.tlsKey || o.tlsCa) {
      setTlsFiles({ cert: path.resolve(o.tlsCert ?? ""), key: path.resolve(o.tlsKey ?? ""), ca: path.resolve(o.tlsCa ?? "") });
    }
  });

program.command("start")
  .description("Start a head and a node agent (--head), or a node agent that joins a head (--address). " +
    "If this machine's head died, --head starts it again on its address, token and storage.")
  .option("--head", "start a new cluster: its head and a node agent on this machine")
  .addOption(addressOption())
  .addOption(tokenOption())
  .addOption(tokenFileOption())
  .option("--host <host>", "address to bind and advertise (default: 127.0.0.1 for a head, the route to the head when joining)")
  .option("--port <port>", "head port (default: a free one)", port)
  .option("--num-cpus <n>", "CPUs this node offers (default: all cores)", count("--num-cpus"))
  .option("--num-gpus <n>", "GPUs this node offers", count("--num-gpus"))
  .option("--resources <json>", `other resources, e.g. '{"widget":3}'`)
  .option("--labels <k=v,...>", "node labels, e.g. zone=a,disk=ssd")
  .option("--agent-port <port>", "node agent control port (default: a free one)", port)
  .option("--transfer-port <port>", "object-transfer port between nodes (default: a free one)", port)
  .option("--worker-ports <a-b>", "port range for worker processes, e.g. 20000-20999 (default: free ones)")
  .option("--object-store-memory <bytes>", "bytes of objects this node keeps in memory before the oldest spill to disk (default: 30% of RAM)", count("--object-store-memory"))
  .option("--spill-dir <dir>", "where objects spill to (default: the temp dir)")
  .option("--storage <dir>", "head only: where it keeps its tables and code packages (default: a fresh $HELIOS_HOME/head/storage); a head started on a directory with tables carries on from them")
  .action(async function (this: Command, o) {
    if (o.head) {
      if (this.getOptionValueSource("address") === "cli") throw new Error("use either --head (start a cluster) or --address (join one), not both");
      const r = await startHead({ ...o, token: givenToken(o) });
      if (r.restarted) {
        const { nodes, actors, jobs } = r.restarted;
        console.log([
          `Started the Helios head again at ${r.address} (pid ${r.pid}), on its storage ${r.storage}`,
          `(loaded ${nodes} node(s), ${actors} actor(s), ${jobs} job(s)). Its node agents reconnect by themselves.`,
          ...(r.restarted.skipped ? [`Warning: ${r.restarted.skipped} corrupt record(s) of its storage were skipped; 'helios status' says where.`] : []),
          ...(r.agent ? [`Started a node agent ${r.agent.nodeId} at ${r.agent.address} (pid ${r.agent.pid}).`] : []),
        ].join("\n"));
        return;
      }
      // The token itself is never printed: on a command line, every user of the machine sees it in `ps`.
      console.log([
        `Started the Helios head at ${r.address} (pid ${r.pid}).`,
        `Started a node agent ${r.agent!.nodeId} at ${r.agent!.address} (pid ${r.agent!.pid}).`,
        `The cluster token is stored in ${r.tokenFile} (readable only by you).`,
        `The head keeps its tables in ${r.storage}; if it dies, 'helios start --head' starts it again from there.`,
        ``,
        `To add another machine to this cluster, copy the token file to it, keeping it private`,
        `(e.g. scp -p ${r.tokenFile} HOST:${r.tokenFile}), then run on it:`,
        `  helios start --address ${r.address} --token-file ${r.tokenFile}`,
        `or:`,
        `  HELIOS_ADDRESS=${r.address} HELIOS_TOKEN_FILE=${r.tokenFile} helios start`,
        ``,
        `To connect a script (on another machine, with HELIOS_TOKEN_FILE set to the copy):`,
        `  init({ address: "${r.address}" })`,
        ``,
        `Check the cluster with 'helios status'; stop it with 'helios stop'.`,
      ].join("\n"));
      return;
    }
    if (!o.address) throw new Error("pass --head to start a new cluster, or --address HOST:PORT (or set HELIOS_ADDRESS) to join one");
    const token = givenToken(o) ?? readTokenFile();
    if (!token) throw new Error(missingToken(true));
    const a = await startAgent({ ...o, token });
    console.log(`Started a node agent ${a.nodeId} at ${a.address} (pid ${a.pid}), joined to the head at ${o.address}.`);
  });

program.command("status")
  .description("Show the nodes of the cluster, their resources (used/total) and labels.")
  .addOption(addressOption())
  .addOption(tokenOption())
  .action(async (o) => {
    const recorded = readDaemons();
    const address = o.address || recorded?.head?.address || recorded?.headAddress;
    if (!address) throw new Error("no cluster to ask: pass --address HOST:PORT, set HELIOS_ADDRESS, or start one with 'helios start --head'");
    const token = o.token || readTokenFile();
    if (!token) throw new Error(missingToken());
    const [nodes, storage] = await Promise.all([clusterStatus(address, token), headStorage(address, token)]);
    console.log(formatStatus(address, nodes));
    const warning = formatStorageWarning(storage);
    if (warning) console.log(`\n${warning}`);
    // Done: a connection attempt to an unreachable node (a cut link) may linger for a minute
    // after its call timed out, and must not hold the answer back.
    process.exit(0);
  });

program.command("stop")
  .description("Stop the Helios daemons this machine started (recorded in $HELIOS_HOME/daemons.json).")
  .action(async () => {
    const stopped = await stopDaemons();
    if (!stopped.length) return console.log("No Helios daemons are recorded on this machine; nothing to stop.");
    for (const s of stopped) {
      const what = `${s.kind === "head" ? "head" : "node agent"} at ${s.address} (pid ${s.pid})`;
      console.log(s.result === "not running" ? `The ${what} was no longer running.` : `Stopped the ${what}${s.result === "killed" ? " with SIGKILL" : ""}.`);
    }
  });

function missingToken(tokenFileFlag = false): string {
  if (tokenFileFlag) return `no cluster token: pass --token-file (or set HELIOS_TOKEN_FILE) with a copy of ${tokenFile()} from the head's machine, where 'helios start --head' stored it`;
  return `no cluster token: pass --token or set HELIOS_TOKEN. 'helios start --head' stored it in ${tokenFile()} on the head's machine`;
}

try {
  await program.parseAsync();
} catch (e: any) {
  console.error(`helios: ${e?.message ?? e}`);
  if (setting("HELIOS_DEBUG")) console.error(e?.stack);
  process.exit(1);
}
