// Head daemon entry point. Prints one JSON line with its address once it serves.
import * as grpc from "@grpc/grpc-js";
import * as os from "node:os";
import * as path from "node:path";
import { Head } from "./head.js";
import { addService, bindServer, GRPC_OPTIONS } from "../src/rpc/grpc.js";
import { exitWithParent } from "../src/cluster/daemon.js";

const token = process.env.HELIOS_TOKEN ?? "";
const host = process.env.HELIOS_HOST ?? "127.0.0.1";
const port = Number(process.env.HELIOS_PORT ?? 0);

const dataDir = process.env.HELIOS_HEAD_DIR ?? path.join(process.env.HELIOS_SESSION_DIR ?? os.tmpdir(), `head-${process.pid}`);
const head = new Head({ token, dataDir, healthTimeoutMs: Number(process.env.HELIOS_HEALTH_TIMEOUT_MS ?? 10_000) });
const server = new grpc.Server(GRPC_OPTIONS);
addService(server, "Head", token, head.handlers());
const bound = await bindServer(server, host, port);
process.stdout.write(JSON.stringify({ address: `${host}:${bound}`, pid: process.pid }) + "\n");

exitWithParent(() => { head.close(); server.forceShutdown(); });
