// Framed msgpack over TCP: the hot path between core workers (task pushes, actor calls,
// object fetches) and the agent's log stream to drivers. Each frame is a u32 length and a
// msgpack array of messages; messages sent in one tick leave in one write (batching).
// A connection starts with a hello carrying the cluster token and protocol version.
import * as net from "node:net";
import * as os from "node:os";
import type * as tlsTypes from "node:tls";
import { createRequire } from "node:module";
import { tlsConfig } from "./tls.js";

// node:tls only when TLS is configured: loading it costs every worker ~2 MB.
const tls = (): typeof tlsTypes => createRequire(import.meta.url)("node:tls");
import { EventEmitter } from "node:events";
import { Packr } from "msgpackr";
import { AuthenticationError, VersionMismatchError, fromErrorInfo, toErrorInfo } from "../errors.js";
import { PROTOCOL_VERSION } from "../version.js";
import "../serialization.js";   // its msgpack extensions must exist wherever values are decoded

const packr = new Packr({ useRecords: false, moreTypes: true });
/** Idle time before TCP keepalive probes start on a wire connection. */
const KEEPALIVE_MS = 15_000;
/** Largest frame accepted; larger inline payloads go through the object store instead. */
const MAX_FRAME = 256 * 1024 * 1024;

export type Message = { t: string; rid?: number; re?: number; [k: string]: any };
export type RequestHandler = (msg: Message, conn: Connection) => unknown | Promise<unknown>;
/** A reply's callback: the peer's typed error (or the connection's close), or the value. */
export type Answer = (error: Error | undefined, value?: any) => void;

export class Connection extends EventEmitter {
  private queue: Message[] = [];
  private scheduled = false;
  private nextRid = 1;
  private pending = new Map<number, Answer>();
  private chunks: Buffer[] = [];
  private buffered = 0;
  closed = false;
  /** Set by the owner of the connection: handles messages that are not replies. */
  onRequest: RequestHandler = () => { throw new Error("no handler"); };
  /** Free-form state for whoever serves this connection. */
  state: Record<string, any> = {};

  constructor(readonly socket: net.Socket) {
    super();
    socket.setNoDelay(true);
    // A peer behind a cut link sends no FIN: keepalive probes end the connection (and fail what
    // waits on it with a typed error) instead of letting it hang for ever. Unix sockets need none.
    if (socket.remoteAddress) socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.on("data", (d) => this.onData(d));
    socket.on("error", () => {});
    socket.on("close", () => this.onClose());
  }

  send(msg: Message): void {
    if (this.closed) return;
    this.queue.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  /** Send and await the peer's reply; rejects with the peer's typed error, or on close. */
  request<T = any>(msg: Message): Promise<T> {
    if (this.closed) return Promise.reject(new Error("connection closed"));
    return new Promise<T>((resolve, reject) => this.call(msg, (e, v) => (e ? reject(e) : resolve(v))));
  }

  /** request() with a callback instead of a promise, for the hot paths (a task push). */
  call(msg: Message, answer: Answer): void {
    if (this.closed) { answer(new Error("connection closed")); return; }
    const rid = this.nextRid++;
    msg.rid = rid;
    this.pending.set(rid, answer);
    this.send(msg);
  }

  unref(): this { this.socket.unref(); return this; }
  ref(): this { this.socket.ref(); return this; }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.socket.end();
    this.socket.destroySoon?.();
    this.onClose();
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0 || this.closed) return;
    const body = packr.pack(this.queue);
    this.queue = [];
    // One write per frame: the length prefix and the body in one buffer (one syscall, not writev).
    const frame = Buffer.allocUnsafe(4 + body.length);
    frame.writeUInt32LE(body.length, 0);
    frame.set(body, 4);
    this.socket.write(frame);
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    while (this.buffered >= 4) {
      if (this.chunks[0].length < 4) this.chunks = [Buffer.concat(this.chunks)];
      const len = this.chunks[0].readUInt32LE(0);
      if (len > MAX_FRAME) { this.socket.destroy(); return; }
      if (this.buffered < 4 + len) return;   // wait for the whole frame before copying anything
      const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      const frame = buf.subarray(4, 4 + len);
      const rest = buf.subarray(4 + len);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      let batch: Message[];
      try { batch = packr.unpack(frame); } catch { this.socket.destroy(); return; }
      for (const msg of batch) this.dispatch(msg);
    }
  }

  private dispatch(msg: Message): void {
    if (msg.re !== undefined) {
      const answer = this.pending.get(msg.re);
      if (!answer) return;
      this.pending.delete(msg.re);
      if (msg.err) answer(fromErrorInfo(msg.err)); else answer(undefined, msg.ok);
      return;
    }
    let result: unknown;
    try {
      result = this.onRequest(msg, this);
    } catch (e) {
      if (msg.rid !== undefined) this.send({ t: "reply", re: msg.rid, err: toErrorInfo(e) });
      return;
    }
    if (msg.rid === undefined) return;
    if (result instanceof Promise) {
      result.then((ok) => this.send({ t: "reply", re: msg.rid, ok }),
        (e) => this.send({ t: "reply", re: msg.rid, err: toErrorInfo(e) }));
    } else {
      this.send({ t: "reply", re: msg.rid, ok: result });
    }
  }

  private emittedClose = false;
  private onClose(): void {
    this.closed = true;
    if (this.emittedClose) return;
    this.emittedClose = true;
    const err = new Error("connection closed");
    for (const answer of this.pending.values()) answer(err);
    this.pending.clear();
    this.emit("close");
  }
}

// Peers on the same host talk over a Unix socket beside the TCP port (a round trip measured
// ~1.4x faster than loopback TCP here, and each write costs less CPU). The address stays
// host:port everywhere; the socket's name is derived from it, in Linux's abstract namespace:
// it belongs to the network namespace (as the TCP port does), needs no file and vanishes with
// its process, however that ends. Anyone who could connect to the TCP port can connect to it,
// and the same hello (token, version) guards it. Off with TLS (which is for the network) or
// HELIOS_WIRE_UDS=0.
const UDS = process.platform === "linux" && process.env.HELIOS_WIRE_UDS !== "0";
const udsPath = (host: string, port: number) => `\0helios-wire-${host}-${port}`;
let localHosts: Set<string> | undefined;
function isLocalHost(host: string): boolean {
  localHosts ??= new Set(["localhost", ...Object.values(os.networkInterfaces()).flat().map((i) => i!.address)]);
  return localHosts.has(host);
}

/** Open a connection and pass the hello handshake (over the peer's Unix socket when it is on this host). */
export async function connect(address: string, token: string): Promise<Connection> {
  const [host, port] = splitAddress(address);
  if (UDS && !tlsConfig() && isLocalHost(host)) {
    try { return await handshake(address, net.connect(udsPath(host, port)), "connect", token); } catch (e: any) {
      if (e?.code !== "ENOENT" && e?.code !== "ECONNREFUSED") throw e;   // no socket there: a peer without one, TCP it is
    }
  }
  const t = tlsConfig();
  const socket = t ? tls().connect({ host, port, ca: t.ca, cert: t.cert, key: t.key, servername: net.isIP(host) ? undefined : host })
    : net.connect({ host, port });
  return handshake(address, socket, t ? "secureConnect" : "connect", token);
}

function handshake(address: string, socket: net.Socket, ready: string, token: string): Promise<Connection> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.once(ready, () => {
      const conn = new Connection(socket);
      conn.onRequest = (msg) => {
        if (msg.t === "welcome") { socket.off("error", reject); conn.onRequest = () => undefined; resolve(conn); }
        else if (msg.t === "denied") {
          reject(msg.code === "version" ? new VersionMismatchError(msg.message) : new AuthenticationError(msg.message));
          conn.close();
        }
      };
      conn.once("close", () => reject(new Error(`connection to ${address} closed during handshake`)));
      conn.send({ t: "hello", token, version: PROTOCOL_VERSION });
    });
  });
}

export class WireServer {
  private server: net.Server | tlsTypes.Server;
  /** The same endpoint on a Unix socket, for peers on this host. */
  private local?: { server: net.Server };
  readonly connections = new Set<Connection>();
  address = "";
  /** Called after an accepted connection passed the handshake, and after one closed. */
  onOpen?: (conn: Connection) => void;
  onClose?: (conn: Connection) => void;

  /** Connections accepted before serve() was called: their requests wait for it. */
  private early?: { conns: Connection[]; served: Promise<void>; serve: () => void };

  constructor(private token: string, private onConnection?: (conn: Connection) => void) {
    const t = tlsConfig();
    this.server = t
      ? tls().createServer({ ca: t.ca, cert: t.cert, key: t.key, requestCert: true, rejectUnauthorized: true }, (socket) => this.accept(socket))
      : net.createServer((socket) => this.accept(socket));
  }

  /**
   * Serve connections with this handler from now on, and the ones accepted before it (a driver
   * listens before its cluster starts, and the head may call it before its runtime exists).
   */
  serve(onConnection: (conn: Connection) => void): void {
    this.onConnection = onConnection;
    const early = this.early;
    this.early = undefined;
    if (!early) return;
    for (const c of early.conns) if (!c.closed) onConnection(c);
    early.serve();
  }

  listen(host: string, port = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        const a = this.server.address() as net.AddressInfo;
        this.address = `${host}:${a.port}`;
        if (UDS && !tlsConfig()) this.listenLocal(host, a.port).then(() => resolve(this.address), () => resolve(this.address));
        else resolve(this.address);
      });
    });
  }

  /** Listen on the Unix socket of host:port too (this process holds the TCP port, so the name is free). */
  private listenLocal(host: string, port: number): Promise<void> {
    const server = net.createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(udsPath(host, port), () => {
        this.local = { server };
        if (this.unrefd) server.unref();
        resolve();
      });
    });
  }
  private unrefd = false;

  unref(): void { this.unrefd = true; this.server.unref(); this.local?.server.unref(); }

  close(): void {
    this.server.close();
    if (this.local) {
      this.local.server.close();
      this.local = undefined;
    }
    for (const c of this.connections) c.close();
  }

  private accept(socket: net.Socket): void {
    const conn = new Connection(socket);
    const timer = setTimeout(() => socket.destroy(), 10_000).unref();
    conn.onRequest = (msg) => {
      clearTimeout(timer);
      if (msg.t !== "hello") { socket.destroy(); return; }
      if (msg.version !== PROTOCOL_VERSION) {
        conn.send({ t: "denied", code: "version", message:
          `client speaks Helios protocol ${msg.version}, this cluster speaks ${PROTOCOL_VERSION}. Tip: use the same Helios version on the client and the cluster.` });
        conn.close();
        return;
      }
      if (msg.token !== this.token) {
        conn.send({ t: "denied", code: "auth", message: msg.token ? "wrong cluster token" : "missing cluster token" });
        conn.close();
        return;
      }
      this.connections.add(conn);
      conn.on("close", () => { this.connections.delete(conn); this.onClose?.(conn); });
      conn.onRequest = () => undefined;
      conn.send({ t: "welcome" });
      if (this.onConnection) this.onConnection(conn);
      else {
        let serve!: () => void;
        this.early ??= { conns: [], served: new Promise<void>((r) => (serve = r)), serve };
        this.early.conns.push(conn);
        const served = this.early.served;
        conn.onRequest = (m, c) => served.then(() => c.onRequest(m, c));
      }
      this.onOpen?.(conn);
    };
  }
}

export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(":");
  return [address.slice(0, i), Number(address.slice(i + 1))];
}

/** Listen on a free port of `range` ("a-b", firewalled clusters), trying them from a random start. */
export async function listenInRange(server: WireServer, host: string, range: string): Promise<string> {
  const m = /^(\d+)-(\d+)$/.exec(range);
  if (!m || Number(m[1]) > Number(m[2])) throw new TypeError(`a port range must look like 20000-20999, got ${JSON.stringify(range)}`);
  const [lo, hi] = [Number(m[1]), Number(m[2])];
  const start = lo + Math.floor(Math.random() * (hi - lo + 1));
  for (let i = 0; i <= hi - lo; i++) {
    const port = lo + ((start - lo + i) % (hi - lo + 1));
    try { return await server.listen(host, port); } catch (e: any) { if (e.code !== "EADDRINUSE") throw e; }
  }
  throw new Error(`no free port in ${range} on ${host}`);
}
