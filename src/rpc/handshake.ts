// The wire hello as a mutual challenge-response keyed by the cluster token: each side proves it
// holds the token without sending it, so a peer that is not the cluster's (a process squatting a
// socket name, a port taken over while its daemon was down) learns nothing it could replay.
//
//   client                                   server
//   hello { version, nonce: cN }        →
//                                       ←    challenge { nonce: sN, proof: H("server", cN, sN) }
//   (checks the server's proof)
//   proof { proof: H("client", cN, sN) } →
//                                       ←    welcome | denied { code: "auth" | "version" }
//
// H is HMAC-SHA256 keyed by the token, over the role and both nonces; each side picks a fresh
// 16-byte nonce, so a proof seen once is useless on any other connection, and the two roles'
// proofs differ, so neither can be reflected back. Proofs are compared in constant time.
import { createHmac, randomBytes, timingSafeEqual, createHash } from "node:crypto";

export const NONCE_BYTES = 16;
const PROOF_BYTES = 32;

export type Role = "client" | "server";

export function newNonce(): Buffer { return randomBytes(NONCE_BYTES); }

export function proof(token: string, role: Role, clientNonce: Uint8Array, serverNonce: Uint8Array): Buffer {
  return createHmac("sha256", token).update(`helios-wire-${role}`).update(clientNonce).update(serverNonce).digest();
}

/** Is `given` the proof `role` must show for these nonces? Constant time; any malformed input is simply false. */
export function verifyProof(token: string, role: Role, clientNonce: unknown, serverNonce: unknown, given: unknown): boolean {
  if (!isBytes(clientNonce, NONCE_BYTES) || !isBytes(serverNonce, NONCE_BYTES) || !isBytes(given, PROOF_BYTES)) return false;
  return timingSafeEqual(proof(token, role, clientNonce, serverNonce), given);
}

export function isNonce(v: unknown): v is Uint8Array { return isBytes(v, NONCE_BYTES); }

function isBytes(v: unknown, length: number): v is Uint8Array {
  return v instanceof Uint8Array && v.length === length;
}

/** Compare two secrets in constant time (in their length too: both are hashed first). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}
