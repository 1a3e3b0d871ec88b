// Physical baselines, measured in the same run as the Helios rows, with the same timeit():
//   raw_socket_pingpong_per_s  two node processes, 4-byte-length-prefixed frames of 64 bytes
//                              over TCP on 127.0.0.1 (Nagle off), one frame there and one back
//                              per round trip; the other process parses each frame before replying.
//   raw_unix_socket_pingpong_per_s  the same over a Unix socket: what Helios's hot path uses
//                              between processes on one machine, so the floor its sync calls
//                              are held against.
//   memcpy_gb_per_s            Buffer.copy of 1 GB (1e9 bytes) between two Buffers whose
//                              pages were touched beforehand.
// Run as a script (`node bench/baselines.mjs echo`), this file is the ping-pong's other end.
import { spawn } from "node:child_process";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { timeit } from "./timeit.mjs";

const PAYLOAD = 64;

/** Call `onFrame(payload)` for each complete length-prefixed frame arriving on `sock`. */
function frames(sock, onFrame) {
  let buf = Buffer.alloc(0);
  sock.on("data", (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4) {
      const len = buf.readUInt32LE(0);
      if (buf.length < 4 + len) break;
      onFrame(buf.subarray(4, 4 + len));
      buf = buf.subarray(4 + len);
    }
  });
}

function frame(payload) {
  const f = Buffer.allocUnsafe(4 + payload.length);
  f.writeUInt32LE(payload.length, 0);
  payload.copy(f, 4);
  return f;
}

/** The echo end: listen on an ephemeral port (or a Unix socket), print where, answer each frame with a frame. */
function echo(transport) {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    frames(sock, (p) => sock.write(frame(p)));
    sock.on("close", () => server.close());
  });
  if (transport === "unix") {
    const name = `\0helios-bench-pingpong-${process.pid}`;   // abstract: no file to leave behind
    server.listen(name, () => console.log(JSON.stringify({ path: name })));
  } else {
    server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ host: "127.0.0.1", port: server.address().port })));
  }
  process.stdin.on("end", () => process.exit(0));   // the parent went away
  process.stdin.resume();
}

export async function pingPong(ctx, transport = "tcp") {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "echo", transport], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    const where = await new Promise((resolve, reject) => {
      child.stdout.once("data", (d) => resolve(JSON.parse(String(d).trim())));
      child.once("exit", (code) => reject(new Error(`the echo process exited with ${code}`)));
    });
    const sock = net.connect(where);
    await new Promise((resolve, reject) => { sock.once("connect", resolve); sock.once("error", reject); });
    sock.setNoDelay(true);
    let waiting;
    frames(sock, () => waiting());
    const ping = frame(Buffer.alloc(PAYLOAD, 7));
    const roundTrip = () => new Promise((resolve) => { waiting = resolve; sock.write(ping); });
    const r = await timeit(roundTrip, { timing: ctx.timing });
    sock.destroy();
    return { unit: "round trips/s", ...r, details: { transport: transport === "unix" ? "Unix socket" : "TCP 127.0.0.1", payloadBytes: PAYLOAD } };
  } finally {
    child.stdin.end();
    child.kill();
  }
}

export async function memcpy(ctx) {
  const size = ctx.quick ? 8e6 : 1e9;
  let src = Buffer.allocUnsafeSlow(size).fill(1);
  let dst = Buffer.allocUnsafeSlow(size).fill(2);
  try {
    const r = await timeit(() => { src.copy(dst); }, { multiplier: size / 1e9, timing: ctx.timing });
    return { unit: "GB/s", ...r, details: { bytes: size } };
  } finally {
    src = dst = undefined;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "echo") echo(process.argv[3]);
