// The node's object store, shared by the processes of a node: core workers write and read it,
// the agent counts, spills, serves and frees it. One file per large object in the node's store
// directory (in /dev/shm when it is large enough). The agent creates the directory and removes
// it with the node; owners ask the agent to free objects.
//
// Freed files are not deleted but kept as segments in `.pool/` for the next write: writing
// into pages a file already has runs at ~5.7 GB/s here, into fresh pages at ~2.3 GB/s (the
// kernel zeroes and maps every new 4 KiB page). Segments move by rename(2), which is atomic,
// so any process of the node can take one without coordination: the one whose rename wins
// owns it.
//
// Capacity and spilling: the agent writes `.store.json` (capacity in bytes, spill directory)
// and keeps `.usage` (bytes in the store, freed segments included) up to date as files come
// and go; above capacity it spills the oldest objects to disk (store-monitor.ts). A writer
// that finds no room in the published figure makes room itself, at once: freed segments go
// first, then the oldest objects move to the spill directory (claim, copy, rename, unlink: see
// spillSteps; a reader looks in each place). A value that still does not fit is written to the
// spill directory directly; with no room there either, ObjectStoreFullError.
//
// Only the agent's user can read objects: the store and spill directories are 0700 (made by the
// agent, cluster/private-dir.ts), object files 0600; an id is checked before it names a file.
import * as fs from "node:fs";
import * as path from "node:path";
import { objectId, type ObjectId } from "../ids.js";
import { readParts, type Serialized } from "../serialization.js";
import { ObjectStoreFullError } from "../errors.js";
import { setting } from "../config.js";

/** Bytes of freed segments a node keeps for reuse (HELIOS_STORE_POOL_BYTES overrides). */
export const POOL_BYTES = setting("HELIOS_STORE_POOL_BYTES");

/** The store's limits, written by the agent into `.store.json`. */
export interface StoreConfig { capacity: number; spillDir: string }

/** Files of the store dir that are not objects: dotfiles (.pool, .usage, …) and files being written. */
export function isObjectFile(name: string): boolean {
  return !name.startsWith(".") && !name.endsWith(".tmp") && !name.endsWith(".part") && !name.endsWith(SPILLING);
}

/** An object being spilled is renamed to `<id>.spilling` first: the rename is the claim (one spiller wins). */
const SPILLING = ".spilling";

const NO_ROOM = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

export class LocalStore {
  private readonly pool: string;
  private conf?: StoreConfig | null;

  constructor(readonly dir: string) { this.pool = path.join(dir, ".pool"); }

  /** Where a value is written when there is room in memory (and where transfers land); InvalidIdError for what is not an id. */
  path(id: ObjectId): string { return path.join(this.dir, objectId(id)); }

  /** The store's capacity and spill directory; null for a store without them (a bare directory). */
  config(): StoreConfig | null {
    if (this.conf === undefined) {
      try { this.conf = JSON.parse(fs.readFileSync(path.join(this.dir, ".store.json"), "utf8")) as StoreConfig; } catch { this.conf = null; }
    }
    return this.conf;
  }

  spillPath(id: ObjectId): string | undefined {
    const c = this.config();
    return c ? path.join(c.spillDir, objectId(id)) : undefined;
  }

  /**
   * `f` of the object's file wherever it is now: in memory (tried first), being spilled (its
   * claim, until the copy is in place), or spilled; ENOENT only when it is in none of them.
   */
  withFile<T>(id: ObjectId, f: (file: string) => T): T {
    const p = this.path(id);
    try { return f(p); } catch (e) {
      const s = this.spillPath(id);
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || !s) throw e;
      for (const file of [s, p + SPILLING, s]) {
        try { return f(file); } catch (e2) { if ((e2 as NodeJS.ErrnoException).code !== "ENOENT") throw e2; }
      }
      return f(p);   // put back (the spill disk was full), or gone: ENOENT
    }
  }

  /** The file that holds an object now (ENOENT when none does). */
  locate(id: ObjectId): string { return this.withFile(id, (f) => { fs.statSync(f); return f; }); }

  has(id: ObjectId): boolean {
    try { this.locate(id); return true; } catch { return false; }
  }

  /** The object's size in bytes. */
  size(id: ObjectId): number { return this.withFile(id, (f) => fs.statSync(f).size); }

  write(id: ObjectId, value: Serialized): void {
    objectId(id);
    const dir = this.placeFor(value.size);
    try {
      this.writeIn(dir, id, value);
    } catch (e) {
      const spill = this.config()?.spillDir;
      if (!NO_ROOM.has((e as NodeJS.ErrnoException).code!)) throw e;
      if (dir !== spill && spill) {
        try { return this.writeIn(spill, id, value); } catch (e2) { if (!NO_ROOM.has((e2 as NodeJS.ErrnoException).code!)) throw e2; }
      }
      throw this.full(value.size);
    }
  }

  private writeIn(dir: string, id: ObjectId, value: Serialized): void {
    const tmp = path.join(dir, id) + ".tmp";
    const reused = dir === this.dir ? this.takeSegment(value.size, tmp) : 0;
    try {
      const fd = fs.openSync(tmp, reused ? "r+" : "w", 0o600);   // readable by this user only, whatever the umask allows
      try {
        let pos = 0;
        for (const c of value.chunks) {
          let off = 0;
          while (off < c.byteLength) off += fs.writeSync(fd, c, off, Math.min(c.byteLength - off, 1 << 30), pos + off);
          pos += c.byteLength;
        }
        if (reused && reused > value.size) fs.ftruncateSync(fd, value.size);
      } finally { fs.closeSync(fd); }
      fs.renameSync(tmp, path.join(dir, id));
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }

  private full(size: number): ObjectStoreFullError {
    const c = this.config();
    return new ObjectStoreFullError(`the object store has no room for an object of ${mb(size)}: ${c ? `${mb(this.usage())} of its ${mb(c.capacity)} in memory, ` +
      `and the spill directory ${c.spillDir} is full` : `its directory ${this.dir} is full`}. ` +
      "Tip: drop refs to objects you no longer need, raise objectStoreMemory, or point spillDir (HELIOS_SPILL_DIR) at a larger disk.");
  }

  /** The directory to write `size` bytes in: the store when they fit (after making room), else the spill directory. */
  placeFor(size: number): string {
    const c = this.config();
    if (!c || this.usage() + size <= c.capacity) return this.dir;
    return this.makeRoom(size, c) ? this.dir : c.spillDir;
  }

  /** Bytes in the store as the agent last counted them. */
  usage(): number {
    try { return Number(fs.readFileSync(path.join(this.dir, ".usage"), "utf8")) || 0; } catch { return 0; }
  }

  /**
   * Count the store's bytes and free room for `size` more: freed segments first, then the
   * oldest objects go to the spill directory. True when they fit in the end.
   */
  private makeRoom(size: number, { capacity }: StoreConfig): boolean {
    if (size > capacity) return false;   // it will never fit: keep what is in memory there
    const files = this.objects();
    const segments = this.segments();
    let used = files.reduce((n, f) => n + f.size, 0) + segments.reduce((n, s) => n + s.size, 0);
    for (const s of segments) {
      if (used + size <= capacity) return true;
      try { fs.unlinkSync(path.join(this.pool, s.name)); used -= s.size; } catch { /* taken meanwhile */ }
    }
    for (const f of files) {
      if (used + size <= capacity) return true;
      try { if (this.spillSync(f.name as ObjectId)) used -= f.size; } catch (e) {
        if (NO_ROOM.has((e as NodeJS.ErrnoException).code!)) return false;
        throw e;
      }
    }
    return used + size <= capacity;
  }

  /** The store's objects, oldest first. */
  private objects(): Array<{ name: string; size: number; mtimeMs: number }> {
    const out: Array<{ name: string; size: number; mtimeMs: number }> = [];
    for (const name of fs.readdirSync(this.dir)) {
      if (!isObjectFile(name)) continue;
      try { const st = fs.statSync(path.join(this.dir, name)); out.push({ name, size: st.size, mtimeMs: st.mtimeMs }); } catch { /* freed meanwhile */ }
    }
    return out.sort((a, b) => a.mtimeMs - b.mtimeMs);
  }

  /** Move an object to the spill directory; true when this call moved it. */
  spillSync(id: ObjectId): boolean {
    return this.spillSteps(id, (from, to) => fs.copyFileSync(from, to)) as boolean;
  }

  /** spillSync() without blocking the event loop while the bytes are copied (the agent's). */
  async spill(id: ObjectId): Promise<boolean> {
    return this.spillSteps(id, (from, to) => fs.promises.copyFile(from, to));
  }

  // Claim the object by renaming it to <id>.spilling (of two spillers, one wins the rename),
  // copy it to a temporary name, rename that into the spill directory, then unlink the claim.
  // A free racing with it removes the original or the claim first and the spilled copy after:
  // a spill whose claim is gone when it ends removes its copy.
  private spillSteps(id: ObjectId, copy: (from: string, to: string) => void | Promise<void>): boolean | Promise<boolean> {
    const claim = this.path(id) + SPILLING;
    const to = this.spillPath(id)!;
    const tmp = `${to}.${process.pid}.tmp`;
    try { fs.renameSync(this.path(id), claim); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;   // freed, or claimed by another process
      throw e;
    }
    const finish = (): boolean => {
      fs.renameSync(tmp, to);
      try { fs.unlinkSync(claim); return true; } catch {
        fs.rmSync(to, { force: true });   // freed while it was copied
        return false;
      }
    };
    const failed = (e: unknown): boolean => {
      fs.rmSync(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;   // freed while it was copied
      try { fs.renameSync(claim, this.path(id)); } catch { /* freed meanwhile */ }   // no room on disk: it stays
      throw e;
    };
    try {
      const r = copy(claim, tmp);
      if (r instanceof Promise) return r.then(finish, failed);
      return finish();
    } catch (e) { return failed(e); }
  }

  read(id: ObjectId): Buffer { return this.withFile(id, (f) => fs.readFileSync(f)); }

  /** An object's value read in the parts deserialize() takes (each large binary in a buffer of its own). */
  readValue(id: ObjectId): Uint8Array[] {
    return this.withFile(id, (f) => {
      const fd = fs.openSync(f, "r");
      try {
        return readParts(fs.fstatSync(fd).size, (into, position) => {
          for (let done = 0; done < into.length;) {
            const n = fs.readSync(fd, into, done, into.length - done, position + done);
            if (n === 0) throw new Error(`${f} ended before its value did`);
            done += n;
          }
        });
      } finally { fs.closeSync(fd); }
    });
  }

  /**
   * Free an object's file: keep it as a segment for reuse while the pool has room, else delete
   * it; then its claim if a spill has it, then its spilled copy (that order: see spillSteps).
   */
  recycle(id: ObjectId): void {
    const file = this.path(id);
    const s = this.spillPath(id);
    const rest = () => { fs.rm(file + SPILLING, { force: true }, () => { if (s) fs.rm(s, { force: true }, () => {}); }); };
    let size: number;
    try { size = fs.statSync(file).size; } catch { return rest(); }
    const c = this.config();
    if (size > 1 << 20 && this.pooledBytes() + size <= POOL_BYTES && (!c || this.usage() + size <= c.capacity)) {
      try {
        fs.mkdirSync(this.pool, { recursive: true, mode: 0o700 });
        fs.renameSync(file, path.join(this.pool, `${size}.${process.pid}.${++segmentSeq}`));
        return rest();
      } catch { /* fall through and delete */ }
    }
    fs.rm(file, { force: true }, rest);
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

  segments(): Array<{ name: string; size: number }> {
    let names: string[];
    try { names = fs.readdirSync(this.pool); } catch { return []; }
    return names.map((name) => ({ name, size: Number(name.split(".")[0]) })).filter((s) => s.size > 0);
  }

  /** Bytes of the freed segments kept for reuse. */
  pooledBytes(): number { return this.segments().reduce((n, s) => n + s.size, 0); }
}

let segmentSeq = 0;

function mb(bytes: number): string { return `${(bytes / 2 ** 20).toFixed(1)} MB`; }
