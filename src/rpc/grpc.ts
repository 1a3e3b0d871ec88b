// The control plane: unary gRPC calls to the head and the node agents. Bodies are msgpack;
// every call carries the cluster token and protocol version in its metadata.
import type * as grpc from "@grpc/grpc-js";
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { Packr } from "msgpackr";
import { AuthenticationError, HeadUnavailableError, VersionMismatchError, fromErrorInfo, toErrorInfo, type ErrorInfo } from "../errors.js";
import { PROTOCOL_VERSION } from "../version.js";
import type { CallArgs, CallContext, Handlers, Method, ReplyOf, ServiceName } from "./services.js";
import "../serialization.js";
import { tlsConfig } from "./tls.js";   // its msgpack extensions must exist wherever values are decoded
import { encodeRequest, decodeRequest, encodeReply, decodeReply } from "./envelope.js";
import { sameSecret } from "./handshake.js";
import { setting } from "../config.js";

const packr = new Packr({ useRecords: false, moreTypes: true });
// grpc-js loads on first use: a worker that never calls the control plane starts faster and
// stays smaller without it.
const require = createRequire(import.meta.url);
let grpcModule: typeof grpc | undefined;
const g = (): typeof grpc => (grpcModule ??= require("@grpc/grpc-js"));

/** Load grpc-js now, while this process would only wait (a driver whose daemons are starting). */
export function preloadGrpc(): void { setImmediate(g); }
export type { CallContext, ServiceName } from "./services.js";

/**
 * gRPC status codes by name (grpc-js's `status` enum, whose numbers the protocol fixes), so code
 * reads `isStatus(e, "UNAVAILABLE")` and grpc-js need not load to compare.
 */
export const Status = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
} as const;
export type StatusName = keyof typeof Status;

/** The gRPC status a call failed with, by name; undefined when `e` is not a gRPC error. */
export function statusOf(e: unknown): StatusName | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "number") return undefined;
  return (Object.keys(Status) as StatusName[]).find((k) => Status[k] === code);
}
/** Did the call fail with one of these gRPC statuses? `isStatus(e, "UNAVAILABLE", "DEADLINE_EXCEEDED")` */
export function isStatus(e: unknown, ...names: StatusName[]): boolean {
  const s = statusOf(e);
  return s !== undefined && names.includes(s);
}

/** The service of proto/helios.proto: one unary Call(Request) returns (Reply). */
function definition(service: ServiceName): grpc.ServiceDefinition {
  return {
    Call: {
      path: `/helios.${service}/Call`,
      requestStream: false,
      responseStream: false,
      requestSerialize: encodeRequest,
      requestDeserialize: decodeRequest,
      responseSerialize: encodeReply,
      responseDeserialize: decodeReply,
    },
  };
}

/** Message limits set on purpose: control messages are small; code packages are chunked (4 MiB). */
export const GRPC_OPTIONS = {
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 64 * 1024 * 1024,
  // Reconnect quickly to a daemon that is starting or restarting (grpc's default waits 1 s first).
  "grpc.initial_reconnect_backoff_ms": 50,
  "grpc.max_reconnect_backoff_ms": 2000,
};

/**
 * A daemon's server. The token and version are checked on a call's headers, before its message is
 * read (a refused call's body is never received, so a peer without the token can make the daemon
 * hold no more than HTTP/2's flow-control window per stream); an authenticated call's message may
 * be at most 16 MiB; a connection with no call for IDLE_MS is closed (a client reconnects on its
 * next call), so held-open connections without calls do not pile up.
 */
export function createServer(token: string): grpc.Server {
  return new (g().Server)({
    ...GRPC_OPTIONS,
    "grpc.max_receive_message_length": SERVER_MAX_RECEIVE,
    "grpc.max_connection_idle_ms": IDLE_MS,
    interceptors: [authInterceptor(token)],
  });
}
export const SERVER_MAX_RECEIVE = 16 * 1024 * 1024;
const IDLE_MS = setting("HELIOS_GRPC_IDLE_MS");

/** Why a call's headers are refused (status and details), or undefined when they pass. */
export function refusal(md: grpc.Metadata, token: string): { code: number; details: string } | undefined {
  const auth = md.get("authorization")[0];
  if (!auth) return { code: Status.UNAUTHENTICATED, details: "missing cluster token (authorization: Bearer …)" };
  if (typeof auth !== "string" || !sameSecret(auth, `Bearer ${token}`)) return { code: Status.PERMISSION_DENIED, details: "wrong cluster token" };
  const version = md.get("helios-version")[0];
  if (version !== PROTOCOL_VERSION) {
    return { code: Status.FAILED_PRECONDITION, details:
      `version mismatch: client speaks Helios protocol ${String(version).slice(0, 32)}, this cluster speaks ${PROTOCOL_VERSION}` };
  }
  return undefined;
}

function authInterceptor(token: string): grpc.ServerInterceptor {
  return (_method, call) => new (g().ServerInterceptingCall)(call, {
    start: (next) => next({
      onReceiveMetadata: (md, pass) => {
        const r = refusal(md, token);
        if (r) call.sendStatus({ ...r, metadata: null });   // the message is never read
        else pass(md);
      },
    }),
  });
}

/**
 * Replies of calls that carried a request id, kept a while: a client that lost the connection
 * mid-call sends the call again under the same id, and gets the first call's reply (joined if it
 * is still running) instead of running the handler twice. Bounded by age and count.
 */
export const DEDUP_MS = setting("HELIOS_DEDUP_MS");
const DEDUP_MAX = 50_000;
/** `calls`: the copies of a call still running (for cancelled()); dropped once it has its reply. */
interface Answered { at: number; reply: Promise<Buffer>; calls?: Array<grpc.ServerUnaryCall<any, any>> }

/** Serve `service` with its handler map: one handler per method of services.ts, each typed by its request and reply. */
export function addService<N extends ServiceName>(server: grpc.Server, service: N, token: string, handlers: Handlers<N>): void {
  const byMethod = handlers as Record<string, (body: unknown, ctx: CallContext) => unknown>;
  const answered = new Map<string, Answered>();
  const prune = (now: number) => {   // oldest first: stops at the first one to keep
    for (const [id, a] of answered) {
      if (now - a.at < DEDUP_MS && answered.size <= DEDUP_MAX) break;
      answered.delete(id);
    }
  };
  server.addService(definition(service), {
    Call: (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
      const refused = refusal(call.metadata, token);   // also checked before the message was read (createServer)
      if (refused) return callback(refused);
      const method = call.request.method;
      const handler = typeof method === "string" && Object.hasOwn(byMethod, method) ? byMethod[method] : undefined;
      if (!handler) return callback({ code: Status.UNIMPLEMENTED, details: `unknown method ${call.request.method}` });
      let body: any;
      try { body = packr.unpack(call.request.body); } catch {
        return callback({ code: Status.INVALID_ARGUMENT, details: "malformed msgpack body" });
      }
      const id = call.metadata.get("helios-request-id")[0] as string | undefined;
      const seen = id ? answered.get(id) : undefined;
      if (seen) {   // a call sent again: the first one's reply
        seen.calls?.push(call);
        return void seen.reply.then((b) => callback(null, { body: b }));
      }
      const entry: Answered = { at: Date.now(), reply: undefined!, calls: [call] };
      // Cancelled only when every copy of the call went away (a retry still wants the answer).
      const ctx: CallContext = { cancelled: () => !!entry.calls?.every((c) => c.cancelled) };
      entry.reply = Promise.resolve().then(() => handler(body, ctx)).then(
        (out) => packr.pack(out ?? null),
        (e) => packr.pack({ __error: toErrorInfo(e) }),
      );
      if (id) {
        answered.set(id, entry);
        prune(entry.at);
      }
      void entry.reply.then((b) => { entry.calls = undefined; callback(null, { body: b }); });
    },
  });
}

export function bindServer(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, serverCredentials(), (err, p) => err ? reject(err) : resolve(p)));
}

function serverCredentials(): grpc.ServerCredentials {
  const tls = tlsConfig();
  return tls ? g().ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true)
    : g().ServerCredentials.createInsecure();
}

function channelCredentials(): grpc.ChannelCredentials {
  const tls = tlsConfig();
  return tls ? g().credentials.createSsl(tls.ca, tls.key, tls.cert) : g().credentials.createInsecure();
}

/** How long a head client keeps retrying while the head is unreachable (it may be restarting). */
export const HEAD_RECONNECT_MS = setting("HELIOS_HEAD_RECONNECT_MS");
/** Request ids: this process's random prefix and a counter (unique across processes and restarts). */
const clientId = randomBytes(8).toString("base64url");
let requestSeq = 0;
const RETRY_BACKOFF_MS = [50, 100, 200, 400, 800, 1000];

export interface RpcClientOptions {
  /** For head clients: calls that find the head unreachable are tried again with back-off for up to
   *  this long (counted from the first failure), then fail with HeadUnavailableError. Off by default. */
  reconnectMs?: number;
  /** Called each time a call found the head unreachable and will be tried again (tests wait on it). */
  onRetry?: (method: string, attempt: number) => void;
}

/**
 * A client of one service: `new RpcClient(address, "Head", token).call("getJob", { jobId })` is a
 * Promise<JobInfo | null>; a method the service does not have, or a body of another shape, does not compile.
 */
export class RpcClient<N extends ServiceName> {
  private channel?: grpc.Client;
  constructor(readonly address: string, private service: N, private token: string, private options: RpcClientOptions = {}) {}

  /** The gRPC client, made on first use. */
  private get client(): grpc.Client {
    if (!this.channel) {
      const Ctor = g().makeGenericClientConstructor(definition(this.service), this.service);
      this.channel = new Ctor(this.address, channelCredentials(), GRPC_OPTIONS);
    }
    return this.channel;
  }

  /** Wait until the server accepts connections (a daemon that is still starting). */
  ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => this.client.waitForReady(Date.now() + timeoutMs, (e) => e ? reject(e) : resolve()));
  }

  call<M extends Method<N>>(method: M, ...[body, timeoutMs]: CallArgs<N, M>): Promise<ReplyOf<N, M>> {
    const deadline = timeoutMs ? Date.now() + timeoutMs : undefined;
    const request = body === undefined ? {} : body;
    return this.options.reconnectMs
      ? this.retrying<ReplyOf<N, M>>(method, request, deadline, this.options.reconnectMs)
      : this.attempt<ReplyOf<N, M>>(method, request, deadline);
  }

  /**
   * A call lost with the connection is sent again under the same request id, so a server that
   * did run it answers from its first run (within DEDUP_MS); a restarted head, which has no
   * memory of it, relies on every head method being idempotent by itself.
   */
  private async retrying<T>(method: string, body: unknown, deadline: number | undefined, reconnectMs: number): Promise<T> {
    let downSince: number | undefined;
    const id = `${clientId}-${(++requestSeq).toString(36)}`;
    for (let i = 0; ; i++) {
      try { return await this.attempt<T>(method, body, deadline, id); } catch (e: any) {
        if (!isStatus(e, "UNAVAILABLE") || this.closed) throw e;
        downSince ??= Date.now();
        const wait = RETRY_BACKOFF_MS[Math.min(i, RETRY_BACKOFF_MS.length - 1)];
        if (deadline !== undefined && Date.now() + wait >= deadline) throw e;
        if (Date.now() + wait - downSince >= reconnectMs) {
          throw new HeadUnavailableError(`the head at ${this.address} was unreachable for ` +
            `${Math.round((Date.now() - downSince) / 1000)} s (${String(e.details ?? e.message).replace(/\s*Resolution note:.*$/s, "")}). ` +
            "Tip: start the head again on the same address and storage directory; calls wait for it up to HELIOS_HEAD_RECONNECT_MS.", { cause: e });
        }
        this.options.onRetry?.(method, i + 1);
        // Unref'd: a retry alone never keeps a process alive (a driver holds the loop while it waits).
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
  }

  private attempt<T>(method: string, body: unknown, deadline: number | undefined, requestId?: string): Promise<T> {
    const md = new (g().Metadata)();
    if (this.token) md.set("authorization", `Bearer ${this.token}`);
    md.set("helios-version", PROTOCOL_VERSION);
    if (requestId) md.set("helios-request-id", requestId);
    const opts: grpc.CallOptions = deadline ? { deadline } : {};
    return new Promise<T>((resolve, reject) => {
      if (this.closed) return reject(new Error(`client for ${this.address} is closed`));
      const call = (this.client as any).Call({ method, body: packr.pack(body) }, md, opts, (err: grpc.ServiceError | null, reply: any) => {
        this.pending.delete(call);
        if (err) return reject(grpcError(err));
        const out = packr.unpack(reply.body);
        if (out && typeof out === "object" && "__error" in out) return reject(fromErrorInfo(out.__error as ErrorInfo));
        resolve(out as T);
      });
      this.pending.add(call);
    });
  }
  private pending = new Set<grpc.ClientUnaryCall>();
  private closed = false;

  /** Close the channel and cancel calls still in flight (long polls, queued lease requests). */
  close(): void {
    this.closed = true;
    for (const c of this.pending) c.cancel();
    this.pending.clear();
    this.channel?.close();
  }
}

/**
 * A refusal of the call's headers as Helios's typed error (refusal() above); any other gRPC error as it is.
 * FAILED_PRECONDITION is the version check's alone: handlers answer their errors in the reply's body, with OK.
 */
/** Clients of the head and of a node agent. */
export type HeadClient = RpcClient<"Head">;
export type AgentClient = RpcClient<"NodeAgent">;

function grpcError(err: grpc.ServiceError): Error {
  if (err.code === Status.UNAUTHENTICATED || err.code === Status.PERMISSION_DENIED) {
    return new AuthenticationError(err.details, { cause: err });
  }
  if (err.code === Status.FAILED_PRECONDITION) {
    return new VersionMismatchError(err.details, { cause: err });
  }
  return err;
}
