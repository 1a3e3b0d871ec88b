// A wire connection: framed msgpack over a socket. Each frame is a u32 length and a msgpack
// array of messages; messages sent in one tick leave in one write (batching). Every frame is
// hostile until proven otherwise: one that is not a msgpack array of maps with a string type
// and integer request ids, a reply that cannot be read, or a handshake message after the
// handshake closes that connection (with a logged reason), never the process; a request whose
// handler throws gets the error as its reply, and a notice whose handler throws is dropped.
// Before the handshake (wire.ts) a frame may hold at most PRE_AUTH_MAX_FRAME bytes.
import type * as net from "node:net";
import { EventEmitter } from "node:events";
import { Packr } from "msgpackr";
import { ConnectionClosedError, fromErrorInfo, toErrorInfo } from "../errors.js";
import type { HandshakeMessage, IncomingMessage, NoticeMessage, ReplyMessage, RequestMessage, RequestType, WireMessage, WireReply } from "./messages.js";
import "../serialization.js";   // its msgpack extensions must exist wherever values are decoded

const packr = new Packr({ useRecords: false, moreTypes: true });
/** Idle time before TCP keepalive probes start on a wire connection. */
const KEEPALIVE_MS = 15_000;
/** Largest frame accepted; larger inline payloads go through the object store instead. */
export const MAX_FRAME = 256 * 1024 * 1024;
/** Largest frame accepted before the handshake is done (a hello or proof is under 100 bytes). */
export const PRE_AUTH_MAX_FRAME = 1024;

/** A peer broke the protocol: why, for the log line. Logged at most a few times a minute. */
let violations = { windowStart: 0, count: 0, dropped: 0 };
function logViolation(conn: Connection, reason: string): void {
  const now = Date.now();
  if (now - violations.windowStart > 60_000) {
    if (violations.dropped) console.error(`helios wire: ${violations.dropped} more connection(s) closed for protocol violations in the last minute`);
    violations = { windowStart: now, count: 0, dropped: 0 };
  }
  if (++violations.count > 5) { violations.dropped++; return; }
  const peer = conn.socket.remoteAddress ? `${conn.socket.remoteAddress}:${conn.socket.remotePort}` : "a local peer";
  console.error(`helios wire: closed the connection from ${peer}: ${reason}`);
}

export type { IncomingMessage, WireMessage } from "./messages.js";
/** Serves a connection's requests and notices (messages.ts); what it returns (or resolves to) is a request's reply. */
export type RequestHandler = (msg: IncomingMessage, conn: Connection) => unknown | Promise<unknown>;
/** A reply's callback: the peer's typed error (ConnectionClosedError when the connection closed first), or the value. */
export type Answer<V = unknown> = (...a: [error: Error, value: undefined] | [error: undefined, value: V]) => void;

export class Connection extends EventEmitter {
  private queue: WireMessage[] = [];
  private scheduled = false;
  private nextRid = 1;
  private pending = new Map<number, Answer>();
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Frames above this size close the connection: small until the handshake is done. */
  maxFrame = PRE_AUTH_MAX_FRAME;
  closed = false;
  /** Set by the owner of the connection: handles messages that are not replies. */
  onRequest: RequestHandler = () => { throw new Error("no handler"); };
  /** Set by wire.ts while the handshake is under way: it takes every message until then. */
  onHandshake?: (msg: HandshakeMessage | IncomingMessage) => void;
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

  send(msg: NoticeMessage | HandshakeMessage | ReplyMessage): void {
    this.enqueue(msg);
  }

  private enqueue(msg: WireMessage): void {
    if (this.closed) return;
    this.queue.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  /** Send and await the peer's reply; rejects with the peer's typed error, or on close. */
  request<T extends RequestType>(msg: RequestMessage<T>): Promise<WireReply<T>> {
    if (this.closed) return Promise.reject(new ConnectionClosedError());
    return new Promise<WireReply<T>>((resolve, reject) => this.call(msg, (e, v) => (e ? reject(e) : resolve(v))));
  }

  /** request() with a callback instead of a promise, for the hot paths (a task push). */
  call<T extends RequestType>(msg: RequestMessage<T>, answer: Answer<WireReply<T>>): void {
    if (this.closed) { answer(new ConnectionClosedError(), undefined); return; }
    const rid = this.nextRid++;
    msg.rid = rid;
    this.pending.set(rid, answer as Answer);
    this.enqueue(msg as RequestMessage);
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

  /** Write what is queued now instead of at the end of the tick. */
  flushNow(): void { this.flush(); }

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
    if (this.closed) return;
    this.chunks.push(d);
    this.buffered += d.length;
    while (this.buffered >= 4 && !this.closed) {
      if (this.chunks[0].length < 4) this.chunks = [Buffer.concat(this.chunks)];
      const len = this.chunks[0].readUInt32LE(0);
      if (len > this.maxFrame) { this.fail(`a frame of ${len} bytes (at most ${this.maxFrame} here)`); return; }
      if (this.buffered < 4 + len) return;   // wait for the whole frame before copying anything
      const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      const frame = buf.subarray(4, 4 + len);
      const rest = buf.subarray(4 + len);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      let batch: unknown;
      try { batch = packr.unpack(frame); } catch { this.fail("a frame that is not msgpack"); return; }
      if (!Array.isArray(batch)) { this.fail("a frame that is not a list of messages"); return; }
      for (const msg of batch) {
        if (this.closed) return;   // denied or failed: nothing after that is read
        const bad = malformed(msg);
        if (bad) { this.fail(bad); return; }
        try { this.dispatch(msg as WireMessage); } catch (e) {
          this.fail(`a '${(msg as WireMessage).t}' message its handler could not take (${(e as Error)?.message ?? e})`);
          return;
        }
      }
    }
  }

  /** Close this connection for a protocol violation (logged), leaving every other one alone. */
  fail(reason: string): void {
    if (this.closed) return;
    logViolation(this, reason);
    this.socket.destroy();
    this.onClose();
  }

  private dispatch(msg: WireMessage): void {
    if (msg.t === "reply" || (msg as { re?: unknown }).re !== undefined) {   // a reply is known by its request id
      const reply = msg as ReplyMessage;
      const answer = this.pending.get(reply.re);
      if (!answer) return;
      this.pending.delete(reply.re);
      if (reply.err !== undefined) answer(fromErrorInfo(reply.err), undefined); else answer(undefined, reply.ok);
      return;
    }
    if (this.onHandshake) return this.onHandshake(msg);
    if (isHandshake(msg)) throw new Error("a handshake message after the handshake");
    const rid = (msg as { rid?: number }).rid;
    let result: unknown;
    try {
      result = this.onRequest(msg, this);
    } catch (e) {
      if (rid !== undefined) this.send({ t: "reply", re: rid, err: toErrorInfo(e) });
      return;
    }
    if (result instanceof Promise) {
      result.then((ok) => { if (rid !== undefined) this.send({ t: "reply", re: rid, ok }); },
        (e) => { if (rid !== undefined) this.send({ t: "reply", re: rid, err: toErrorInfo(e) }); });
    } else if (rid !== undefined) {
      this.send({ t: "reply", re: rid, ok: result });
    }
  }

  private emittedClose = false;
  private onClose(): void {
    this.closed = true;
    if (this.emittedClose) return;
    this.emittedClose = true;
    const err = new ConnectionClosedError();
    for (const answer of this.pending.values()) answer(err, undefined);
    this.pending.clear();
    this.emit("close");
  }
}

const HANDSHAKE = new Set(["hello", "challenge", "proof", "welcome", "denied"]);
const isHandshake = (msg: WireMessage): msg is HandshakeMessage => HANDSHAKE.has(msg.t);

/** Why `msg` is not a message (a map with a string type, integer request ids), or undefined. */
function malformed(msg: unknown): string | undefined {
  if (msg === null || typeof msg !== "object" || Array.isArray(msg) || msg instanceof Uint8Array) return "a message that is not a map";
  const m = msg as Record<string, unknown>;
  if (typeof m.t !== "string") return "a message without a string type";
  if (m.rid !== undefined && !Number.isSafeInteger(m.rid)) return `a '${m.t}' message whose request id is not an integer`;
  if (m.re !== undefined) {
    if (!Number.isSafeInteger(m.re)) return "a reply whose request id is not an integer";
    if (m.err !== undefined && (m.err === null || typeof m.err !== "object")) return "a reply whose error is not a map";
  }
  return undefined;
}

