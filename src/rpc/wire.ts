// The wire protocol's endpoints: connect() and WireServer, the hot path between core workers
// (task pushes, actor calls, object fetches) and the agent's log stream to drivers; frames and
// their checks are connection.ts. A connection starts with a mutual challenge-response keyed by
// the cluster token (handshake.ts): the token itself never crosses the wire, and the handshake
// has a deadline on both sides.
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import type * as tlsTypes from "node:tls";
import { createRequire } from "node:module";
import { tlsConfig } from "./tls.js";
import { AuthenticationError, VersionMismatchError } from "../errors.js";
import { PROTOCOL_VERSION } from "../version.js";
import { isNonce, newNonce, proof, verifyProof } from "./handshake.js";
import { socketPath, splitAddress, warnOnce } from "./local-socket.js";
import { setting } from "../config.js";
import { Connection, MAX_FRAME } from "./connection.js";

// node:tls only when TLS is configured: loading it costs every worker ~2 MB.
const tls = (): typeof tlsTypes => createRequire(import.meta.url)("node:tls");

export { Connection, PRE_AUTH_MAX_FRAME } from "./connection.js";
export { splitAddress } from "./local-socket.js";
export type { Answer, RequestHandler } from "./connection.js";
export type { IncomingMessage, WireMessage } from "./messages.js";

/** How long either side waits for the other's part of the handshake. */
export const HANDSHAKE_MS = setting("HELIOS_HANDSHAKE_MS");

// Peers on the same host talk over a Unix socket beside the TCP port (a round trip measured
// ~1.4x faster than loopback TCP here, and each write costs less CPU). The address stays
// host:port everywhere; the socket is a file named after it in a directory only this user can
// enter (local-socket.ts), so no other local user can connect to it or pose as it. Peers that
// cannot use it (another user, another host) talk TCP. Off with TLS (which is for the network)
// or HELIOS_WIRE_UDS=0.
const UDS = setting("HELIOS_WIRE_UDS");
let localHosts: Set<string> | undefined;
function isLocalHost(host: string): boolean {
  localHosts ??= new Set(["localhost", ...Object.values(os.networkInterfaces()).flat().map((i) => i!.address)]);
  return localHosts.has(host);
}

/** Open a connection and pass the handshake (over the peer's Unix socket when it is on this host). */
export async function connect(address: string, token: string): Promise<Connection> {
  const [host, port] = splitAddress(address);
  const local = UDS && !tlsConfig() && isLocalHost(host) ? socketPath(host, port) : null;
  let impostor: Error | undefined;
  if (local) {
    try { return await handshake(address, net.connect(local), "connect", token); } catch (e: any) {
      // No socket there: a peer without one, TCP it is. One there that could not prove the token is
      // either not the cluster's or this side's token is wrong: the port itself tells which.
      if (e instanceof AuthenticationError && token) impostor = e;
      else if (e?.code !== "ENOENT" && e?.code !== "ECONNREFUSED") throw e;
    }
  }
  const t = tlsConfig();
  const socket = t ? tls().connect({ host, port, ca: t.ca, cert: t.cert, key: t.key, servername: net.isIP(host) ? undefined : host })
    : net.connect({ host, port });
  const conn = await handshake(address, socket, t ? "secureConnect" : "connect", token);
  if (impostor) warnOnce(`uds-${address}`, `helios wire: the Unix socket of ${address} did not prove the cluster token; using TCP`);
  return conn;
}

/** The client's side of the handshake (handshake.ts); rejects on a deadline too. */
function handshake(address: string, socket: net.Socket, ready: string, token: string): Promise<Connection> {
  return new Promise((resolve, reject) => {
    let conn: Connection | undefined;
    const timer = setTimeout(() => {
      fail(new AuthenticationError(`the peer at ${address} did not complete the handshake within ${HANDSHAKE_MS} ms. ` +
        "Tip: check that the address is a Helios endpoint of this cluster."));
    }, HANDSHAKE_MS).unref();
    const fail = (e: Error) => { clearTimeout(timer); reject(e); if (conn) conn.close(); else socket.destroy(); };
    socket.once("error", fail);
    socket.once(ready, () => {
      const c = conn = new Connection(socket);
      const nonce = newNonce();
      c.onHandshake = (msg) => {
        if (msg.t === "challenge") {
          if (!isNonce(msg.nonce)) return c.fail("a challenge without a nonce");
          // Without a token there is nothing to check the server against: say so and let it refuse.
          if (token && !verifyProof(token, "server", nonce, msg.nonce, msg.proof)) {
            return fail(new AuthenticationError(`the peer at ${address} could not prove it holds the cluster token: ` +
              "a wrong cluster token here, or an endpoint that is not this cluster's. Tip: check HELIOS_TOKEN and the address."));
          }
          c.send(token ? { t: "proof", proof: proof(token, "client", nonce, msg.nonce) } : { t: "proof" });
        } else if (msg.t === "welcome") {
          clearTimeout(timer);
          socket.off("error", fail);
          c.maxFrame = MAX_FRAME;
          c.onHandshake = undefined;
          c.onRequest = () => undefined;
          resolve(c);
        } else if (msg.t === "denied") {
          const text = typeof msg.message === "string" ? msg.message : "refused";
          fail(msg.code === "version" ? new VersionMismatchError(text) : new AuthenticationError(text));
        } else {
          c.fail(`a '${msg.t}' message during the handshake`);
        }
      };
      c.once("close", () => fail(new Error(`connection to ${address} closed during handshake`)));
      c.send({ t: "hello", version: PROTOCOL_VERSION, nonce });
    });
  });
}

export class WireServer {
  private server: net.Server | tlsTypes.Server;
  /** The same endpoint on a Unix socket, for peers of this user on this host. */
  private local?: { server: net.Server; path: string };
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
        const path = UDS && !tlsConfig() ? socketPath(host, a.port) : null;
        if (!path) return resolve(this.address);
        this.listenLocal(path).then(() => resolve(this.address), (e) => {
          warnOnce(`bind-${path}`, `helios wire: serving ${this.address} over TCP only: its Unix socket ${path} could not be bound (${e.message})`);
          resolve(this.address);
        });
      });
    });
  }

  /**
   * Listen on the Unix socket of host:port too. A file left there belongs to a process that held
   * this TCP port before and is gone (this process holds the port now): it is removed first.
   */
  private listenLocal(path: string): Promise<void> {
    try { fs.unlinkSync(path); } catch { /* none there */ }
    const server = net.createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        try { fs.chmodSync(path, 0o600); } catch { /* the directory is private anyway */ }
        this.local = { server, path };
        // A process that exits without close() (an error, process.exit) takes its socket file along.
        const unlink = () => { if (this.local?.path === path) try { fs.unlinkSync(path); } catch { /* gone */ } };
        process.once("exit", unlink);
        server.once("close", () => process.off("exit", unlink));
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
      this.local.server.close();   // removes its file
      this.local = undefined;
    }
    for (const c of this.connections) c.close();
  }

  /** The server's side of the handshake (handshake.ts): hello → challenge, proof → welcome or denied. */
  private accept(socket: net.Socket): void {
    const conn = new Connection(socket);
    const timer = setTimeout(() => conn.fail(`no handshake within ${HANDSHAKE_MS} ms`), HANDSHAKE_MS).unref();
    conn.once("close", () => clearTimeout(timer));
    let clientNonce: Uint8Array | undefined;
    const serverNonce = newNonce();
    const deny = (code: "version" | "auth", message: string) => {
      clearTimeout(timer);
      conn.send({ t: "denied", code, message });
      conn.close();
    };
    conn.onHandshake = (msg) => {
      if (!clientNonce) {
        if (msg.t !== "hello") return conn.fail(`a '${msg.t}' message before the hello`);
        if (msg.version !== PROTOCOL_VERSION) {
          return deny("version", `client speaks Helios protocol ${String(msg.version).slice(0, 32)}, this cluster speaks ${PROTOCOL_VERSION}. ` +
            "Tip: use the same Helios version on the client and the cluster.");
        }
        if (!isNonce(msg.nonce)) return conn.fail("a hello without a nonce");
        clientNonce = msg.nonce;
        conn.send({ t: "challenge", nonce: serverNonce, proof: proof(this.token, "server", clientNonce, serverNonce) });
        return;
      }
      if (msg.t !== "proof") return conn.fail(`a '${msg.t}' message before the handshake was done`);
      if (msg.proof === undefined) return deny("auth", "missing cluster token");
      if (!verifyProof(this.token, "client", clientNonce, serverNonce, msg.proof)) return deny("auth", "wrong cluster token");
      clearTimeout(timer);
      conn.maxFrame = MAX_FRAME;
      conn.onHandshake = undefined;
      this.connections.add(conn);
      conn.on("close", () => { this.connections.delete(conn); this.onClose?.(conn); });
      conn.onRequest = () => undefined;
      conn.send({ t: "welcome" });
      conn.flushNow();   // alone in its frame: the client reads it under the pre-handshake frame limit
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
