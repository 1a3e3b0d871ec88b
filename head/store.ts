// The head's tables on disk, so that a head killed and started again on the same storage
// directory loses nothing: an append-only log of msgpack records, rewritten when it has grown.
//
// Layout of <dir>:
//   tables.log   records, each  u32 length | u32 crc32(payload) | payload = msgpack [table, key, value?]
//                (no value: the key was deleted). The last record for a key wins.
//   LOCK         {"pid", "bootId"} of the head that has the directory open.
//   packages/    code packages (head/packages.ts), content-addressed files.
//
// Loading stops at the first record that is cut short or fails its checksum (a write torn by a
// crash can only be the last one): the file is truncated there and the head starts with the rest.
// Compaction writes the live records to tables.log.compact, fsyncs it and renames it over
// tables.log, so a crash at any point leaves one complete log.
//
// Durability: every change is written to the file (write(2)) before the call that made it is
// answered, so killing the head loses nothing it acknowledged. fdatasync runs at most once per
// FSYNC_INTERVAL_MS while there are unsynced writes (and at close), so a machine crash or
// power loss may lose the last second; HELIOS_HEAD_FSYNC=always syncs every record instead.
import * as fs from "node:fs";
import * as path from "node:path";
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";

export type TableName = "nodes" | "actors" | "jobs" | "kv";
export type FsyncPolicy = "always" | "interval";

export interface StoreOptions {
  fsync?: FsyncPolicy;
  /** Compact once the log exceeds twice its live records plus this many bytes. */
  compactSlackBytes?: number;
  /** Where warnings go (a dropped torn record). */
  warn?: (message: string) => void;
}

/** Another live process holds the storage directory. */
export class StorageLockedError extends Error {
  constructor(readonly dir: string, readonly pid: number) {
    super(`the head storage directory ${dir} is in use by another head (pid ${pid}). ` +
      `Tip: stop that head first, or start this one with another storage directory (--storage).`);
    this.name = "StorageLockedError";
  }
}

const LOG = "tables.log";
const HEADER = 8;
const FSYNC_INTERVAL_MS = 1000;
const packr = new Packr({ useRecords: false, moreTypes: true });

export class HeadStore {
  private tables = new Map<TableName, Map<string, unknown>>();
  /** The encoded record that holds each key's current value, for compaction. */
  private live = new Map<string, Buffer>();
  private liveBytes = 0;
  private logBytes = 0;
  private fd: number;
  private dirty = false;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly fsync: FsyncPolicy;
  private readonly slack: number;

  private constructor(readonly dir: string, options: StoreOptions) {
    this.fsync = options.fsync ?? "interval";
    this.slack = options.compactSlackBytes ?? 1 << 20;
    const file = path.join(dir, LOG);
    this.fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600);
    const bytes = fs.readFileSync(file);
    const good = this.replay(bytes);
    if (good < bytes.length) {
      options.warn?.(`head storage ${file}: dropped ${bytes.length - good} byte(s) after offset ${good} ` +
        "(a record cut short or failing its checksum, as a crash in the middle of a write leaves it)");
      fs.ftruncateSync(this.fd, good);
      fs.fdatasyncSync(this.fd);
    }
    this.logBytes = good;
    this.maybeCompact();
  }

  /** Lock `dir` for this process and load its tables. Throws StorageLockedError when a live head holds it. */
  static open(dir: string, options: StoreOptions = {}): HeadStore {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    lock(dir);
    try { return new HeadStore(dir, options); } catch (e) { unlock(dir); throw e; }
  }

  /** The current rows of a table (key → value), as loaded and changed since. */
  table<T>(name: TableName): ReadonlyMap<string, T> {
    return (this.tables.get(name) ?? new Map()) as ReadonlyMap<string, T>;
  }

  put(table: TableName, key: string, value: unknown): void { this.append([table, key, value]); }
  delete(table: TableName, key: string): void { this.append([table, key]); }

  private append(rec: [TableName, string, unknown?]): void {
    if (this.closed) throw new Error(`head storage ${this.dir} is closed`);
    const buf = frame(packr.pack(rec));
    writeAll(this.fd, buf);
    this.logBytes += buf.length;
    this.apply(rec, buf);
    if (this.fsync === "always") fs.fdatasyncSync(this.fd);
    else this.scheduleSync();
    this.maybeCompact();
  }

  private apply([table, key, ...value]: [TableName, string, unknown?], buf: Buffer): void {
    let t = this.tables.get(table);
    if (!t) this.tables.set(table, t = new Map());
    const id = `${table}\0${key}`;
    this.liveBytes -= this.live.get(id)?.length ?? 0;
    if (value.length) {
      t.set(key, value[0]);
      this.live.set(id, buf);
      this.liveBytes += buf.length;
    } else {
      t.delete(key);
      this.live.delete(id);
    }
  }

  /** Apply the records of a log; returns the length of its intact prefix. */
  private replay(bytes: Buffer): number {
    let off = 0;
    while (off + HEADER <= bytes.length) {
      const len = bytes.readUInt32LE(off);
      const end = off + HEADER + len;
      if (end > bytes.length) break;
      const payload = bytes.subarray(off + HEADER, end);
      if (crc32(payload) !== bytes.readUInt32LE(off + 4)) break;
      let rec: unknown;
      try { rec = packr.unpack(payload); } catch { break; }
      if (!Array.isArray(rec) || typeof rec[0] !== "string" || typeof rec[1] !== "string") break;
      this.apply(rec as [TableName, string, unknown?], Buffer.from(bytes.subarray(off, end)));
      off = end;
    }
    return off;
  }

  private scheduleSync(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = undefined; this.sync(); }, FSYNC_INTERVAL_MS);
    this.timer.unref();
  }

  private sync(): void {
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    fs.fdatasyncSync(this.fd);
  }

  private maybeCompact(): void {
    if (this.logBytes > 2 * this.liveBytes + this.slack) this.compact();
  }

  /** Rewrite the log with only the current records (crash-safe: write aside, fsync, rename). */
  compact(): void {
    const file = path.join(this.dir, LOG);
    const tmp = file + ".compact";
    const fd = fs.openSync(tmp, "w", 0o600);
    try {
      for (const buf of this.live.values()) writeAll(fd, buf);
      fs.fsyncSync(fd);
    } finally { fs.closeSync(fd); }
    fs.renameSync(tmp, file);
    syncDir(this.dir);
    fs.closeSync(this.fd);
    this.fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND);
    this.logBytes = this.liveBytes;
    this.dirty = false;
  }

  /** Sync what was written, close the log and release the directory. */
  close(): void {
    if (this.closed) return;
    this.sync();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    fs.closeSync(this.fd);
    unlock(this.dir);
  }
}

function frame(payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + payload.length);
  buf.writeUInt32LE(payload.length, 0);
  buf.writeUInt32LE(crc32(payload), 4);
  buf.set(payload, HEADER);
  return buf;
}

function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length;) off += fs.writeSync(fd, buf, off);
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try { fs.fsyncSync(fd); } catch { /* not supported on every platform */ } finally { fs.closeSync(fd); }
}

// ---- the lock: one head per storage directory ------------------------------------------

const lockFile = (dir: string) => path.join(dir, "LOCK");
const bootId = (): string => {
  try { return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(); } catch { return ""; }
};

/** A lock is held while its pid runs (and is not a zombie) in the same boot of the machine. */
function holder(dir: string): number | undefined {
  let rec: { pid?: unknown; bootId?: unknown };
  try { rec = JSON.parse(fs.readFileSync(lockFile(dir), "utf8")); } catch { return undefined; }
  const pid = rec.pid;
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  if (rec.bootId !== bootId()) return undefined;   // written before a reboot
  try { process.kill(pid, 0); } catch (e: any) { if (e.code !== "EPERM") return undefined; }
  try { if (/^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))) return undefined; } catch { /* no /proc: trust kill(0) */ }
  return pid;
}

function lock(dir: string): void {
  const body = JSON.stringify({ pid: process.pid, bootId: bootId() }) + "\n";
  for (;;) {
    try {
      fs.writeFileSync(lockFile(dir), body, { flag: "wx", mode: 0o600 });
      return;
    } catch (e: any) {
      if (e.code !== "EEXIST") throw e;
    }
    const pid = holder(dir);
    if (pid !== undefined) throw new StorageLockedError(dir, pid);
    // Stale (its head was killed): take it over. A rival doing the same loses at "wx" above.
    fs.rmSync(lockFile(dir), { force: true });
  }
}

function unlock(dir: string): void {
  try {
    if (JSON.parse(fs.readFileSync(lockFile(dir), "utf8")).pid === process.pid) fs.rmSync(lockFile(dir));
  } catch { /* already gone */ }
}
