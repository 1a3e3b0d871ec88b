// The chunk protocol for stored objects, shared by node agents (files in the node store)
// and drivers without a local store (values held in memory): "stat" → { size },
// "read" { id, offset, length } → bytes. Pulls keep several chunks in flight.
import * as fs from "node:fs";
import type { Connection } from "./wire.js";
import type { ObjectId } from "../ids.js";

const CHUNK = 8 * 1024 * 1024;
const IN_FLIGHT = 4;

export function readChunk(file: string, offset: number, length: number): Uint8Array {
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(length);
    const n = fs.readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, n);
  } finally { fs.closeSync(fd); }
}

/** Read `size` bytes of `id` from a peer in CHUNK pieces, IN_FLIGHT at a time. */
export async function pullChunks(conn: Connection, id: ObjectId, size: number, write: (offset: number, bytes: Uint8Array) => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < size) {
      const offset = next;
      const length = Math.min(CHUNK, size - offset);
      next += length;
      const bytes = await conn.request({ t: "read", id, offset, length });
      if (bytes.length !== length) throw new Error(`short read of ${id} at ${offset}`);
      write(offset, bytes);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}
