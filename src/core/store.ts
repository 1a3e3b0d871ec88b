// The node's object store as seen by a core worker: one file per large object in the
// node's store directory (in /dev/shm when it is large enough). The agent creates the
// directory and removes it with the node; owners ask the agent to free objects.
//
// Freed files are not deleted but kept as segments in `.pool/` for the next write: writing
// into pages a file already has runs at ~5.7 GB/s here, into fresh pages at ~2.3 GB/s (the
// kernel zeroes and maps every new 4 KiB page). Segments move by rename(2), which is atomic,
// so any process of the node can take one without coordination: the one whose rename wins
// owns it.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ObjectId } from "../ids.js";
import type { Serialized } from "../serialization.js";

/** Bytes of freed segments a node keeps for reuse (HELIOS_STORE_POOL_BYTES overrides). */
export const POOL_BYTES = Number(process.env.HELIOS_STORE_POOL_BYTES ?? Math.min(2 ** 31, os.totalmem() / 10));

export class LocalStore {
  private readonly pool: string;

  constructor(readonly dir: string) { this.pool = path.join(dir, ".pool"); }

  path(id: ObjectId): string { return path.join(this.dir, id); }

  write(id: ObjectId, value: Serialized): void {
    const tmp = this.path(id) + ".tmp";
    const reused = this.takeSegment(value.size, tmp);
    const fd = fs.openSync(tmp, reused ? "r+" : "w");
    try {
      let pos = 0;
      for (const c of value.chunks) {
        let off = 0;
        while (off < c.byteLength) off += fs.writeSync(fd, c, off, Math.min(c.byteLength - off, 1 << 30), pos + off);
        pos += c.byteLength;
      }
      if (reused && reused > value.size) fs.ftruncateSync(fd, value.size);
    } finally { fs.closeSync(fd); }
    fs.renameSync(tmp, this.path(id));
  }

  read(id: ObjectId): Buffer { return fs.readFileSync(this.path(id)); }

  /** Free an object's file: keep it as a segment for reuse while the pool has room, else delete it. */
  recycle(id: ObjectId): void {
    const file = this.path(id);
    let size: number;
    try { size = fs.statSync(file).size; } catch { return; }
    if (size > 1 << 20 && this.pooledBytes() + size <= POOL_BYTES) {
      try {
        fs.mkdirSync(this.pool, { recursive: true });
        fs.renameSync(file, path.join(this.pool, `${size}.${process.pid}.${++segmentSeq}`));
        return;
      } catch { /* fall through and delete */ }
    }
    fs.rm(file, { force: true }, () => {});
  }

  /** Move the best-fitting pooled segment (at least `size`, at most twice it) to `to`; its size, or 0. */
  private takeSegment(size: number, to: string): number {
    for (;;) {
      let best: { name: string; size: number } | undefined;
      for (const s of this.segments()) {
        if (s.size >= size && s.size <= 2 * size && (!best || s.size < best.size)) best = s;
      }
      if (!best) return 0;
      try {
        fs.renameSync(path.join(this.pool, best.name), to);
        return best.size;
      } catch { /* another process took it: look again */ }
    }
  }

  private segments(): Array<{ name: string; size: number }> {
    let names: string[];
    try { names = fs.readdirSync(this.pool); } catch { return []; }
    return names.map((name) => ({ name, size: Number(name.split(".")[0]) })).filter((s) => s.size > 0);
  }

  private pooledBytes(): number { return this.segments().reduce((n, s) => n + s.size, 0); }
}

let segmentSeq = 0;
