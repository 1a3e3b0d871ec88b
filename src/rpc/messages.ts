// Every message of the wire protocol (wire.ts), as one union discriminated by `t`, and the
// messages between a node agent and its worker processes (IPC). Requests name their reply
// (Connection.request/call return it typed); notices have none. Fields of a message that
// arrived are what its peer claims: the handler checks what it relies on (objectId(),
// checkTaskSpec()) and answers a request it cannot take with a typed error (connection.ts).
import type { ErrorInfo } from "../errors.js";
import type { JobId, NodeId, ObjectId, TaskId, WorkerId, ActorId } from "../ids.js";
import type { ObjectOutcome, TaskReply, TaskSpec, WorkerEnv } from "../protocol.js";

/** Requests: the message's fields, and what the peer answers. */
export interface WireRequests {
  /** Run a task (or actor call) on the worker this connection reaches. `requeue`: it was queued behind one that blocked; push it elsewhere. */
  push: { msg: { task: TaskSpec }; reply: TaskReply & { requeue?: boolean } };
  /** Drop a pushed task that has not started; false when it has (or is not there). */
  cancel: { msg: { taskId: TaskId }; reply: boolean };
  /** Ask an object's owner where its value is. `owner`: the worker the asker believes owns it; `lost`: a node whose copy could not be read. */
  getObject: { msg: { id: ObjectId; owner?: WorkerId; lost?: NodeId }; reply: ObjectOutcome };
  /** The chunk protocol (chunks.ts): an object's size (`from`: the asker's transfer address, told of frees), then its bytes. */
  stat: { msg: { id: ObjectId; from?: string }; reply: { size: number } };
  read: { msg: { id: ObjectId; offset: number; length: number }; reply: Uint8Array };
  /** The head asks a driver whose job it is (it ends the job when the driver is gone). */
  ping: { msg: Record<never, never>; reply: { jobId?: JobId } };
}
export type RequestType = keyof WireRequests;

/** One-way messages. */
export interface WireNotices {
  /** A stored object was freed: remove the copy of it here. */
  free: { id: ObjectId };
  /** A job's workers' output, forwarded by their agent to the job's driver. */
  logs: { lines: LogLine[] };
}
export interface LogLine { err: boolean; text: string }

/** The handshake (handshake.ts): hello → challenge → proof → welcome or denied. */
export interface HandshakeMessages {
  hello: { version: string; nonce: Uint8Array };
  challenge: { nonce: Uint8Array; proof: Uint8Array };
  /** No proof: the client has no token (the server denies it). */
  proof: { proof?: Uint8Array };
  welcome: Record<never, never>;
  denied: { code: "version" | "auth"; message: string };
}

/** A request as sent: its fields and the request id the connection gives it. */
export type RequestMessage<T extends RequestType = RequestType> = { [K in T]: { t: K; rid?: number } & WireRequests[K]["msg"] }[T];
export type NoticeMessage = { [K in keyof WireNotices]: { t: K } & WireNotices[K] }[keyof WireNotices];
export type HandshakeMessage = { [K in keyof HandshakeMessages]: { t: K } & HandshakeMessages[K] }[keyof HandshakeMessages];
/** The answer to request `re`: its value, or the handler's error. */
export type ReplyMessage = { t: "reply"; re: number; ok?: unknown; err?: ErrorInfo };

export type WireMessage = RequestMessage | NoticeMessage | HandshakeMessage | ReplyMessage;
/** What a connection's handler is given after the handshake: requests and notices. */
export type IncomingMessage = RequestMessage | NoticeMessage;
export type WireReply<T extends RequestType> = WireRequests[T]["reply"];

/** For a switch on `msg.t` that must cover every case: `default: return unexpected(msg)`. */
export function unexpected(msg: never): never {
  throw new Error(`unknown message ${(msg as { t?: unknown })?.t}`);
}

// ---- a node agent and its workers (child-process IPC) --------------------------------------

export type AgentToWorker =
  | { t: "env"; env: WorkerEnv }
  | { t: "createActor"; actorId: ActorId; spec: TaskSpec; maxConcurrency: number };

export type WorkerToAgent =
  | { t: "ready"; address: string }
  /** The owners pushing work to this worker over open connections, and those whose connections closed. */
  | { t: "owners"; owners: string[]; gone: string[] }
  /** Thrown where no task awaited it: the worker exits after this. */
  | { t: "uncaught"; error: { name: string; message: string; stack: string } }
  | { t: "actorCreated"; actorId: ActorId; error?: ErrorInfo };
