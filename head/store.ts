// The head's tables on disk, so that a head killed and started again on the same storage
// directory loses nothing: an append-only log of msgpack records, rewritten when it has grown.
//
// Layout of <dir>:
//   tables.log   records, each  u32 length | u32 crc32(payload) | payload = msgpack [table, key, value?]
//                (no value: the key was deleted). The last record for a key wins.
//   LOCK         {"pid", "bootId"} of the head that has the directory open.
//   packages/    code packages (head/packages.ts), content-addressed files.
//
// Loading: a crash in the middle of a write can only tear the last record, so a bad region with
// no valid record after it (cut short, failing its checksum, garbage or zeros) is a torn tail:
// the file is truncated there. A bad record with valid records after it is damage, not a torn
// write: it is skipped — loading carries on at the next valid record (first where the bad
// record's own length says it ends, else scanning forward byte by byte for a frame whose length
// fits, whose checksum matches and whose payload decodes to [table, key, value?]) — and nothing
// after it is lost. A whole frame that decodes to something else (a key that is not a non-empty
// string, an unknown table) is skipped the same way, wherever it is. When records were skipped,
// the log as it was is copied to tables.log.corrupt-<time> (the offsets reported refer to it, for
// a repair by hand) and the log is rewritten without them, so the damage is reported once and
// nothing is silently lost; `loadReport` keeps what was skipped for the head to tell (helios status).
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
  /** Where warnings go (a dropped torn record, skipped corrupt records). */
  warn?: (message: string) => void;
}

/** A record skipped while loading: where it was in the log, its length, and why. */
export interface SkippedRecord { offset: number; bytes: number; reason: string }
/** What loading found: records applied, records skipped (and where the log was saved before its
 *  rewrite), and a torn tail that was cut. */
export interface LoadReport {
  records: number;
  skipped: SkippedRecord[];
  /** The log as it was, copied aside when records were skipped. */
  savedAs?: string;
  torn?: { offset: number; bytes: number };
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
  /** What loading the log found (records skipped as corrupt, a torn tail cut). */
  readonly loadReport: LoadReport;

  private constructor(readonly dir: string, options: StoreOptions) {
    this.fsync = options.fsync ?? "interval";
    this.slack = options.compactSlackBytes ?? 1 << 20;
    const file = path.join(dir, LOG);
    this.fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600);
    const bytes = fs.readFileSync(file);
    const { end, records, skipped } = this.replay(bytes);
    this.loadReport = { records, skipped };
    if (end < bytes.length) {
      this.loadReport.torn = { offset: end, bytes: bytes.length - end };
      options.warn?.(`head storage ${file}: dropped ${bytes.length - end} byte(s) after offset ${end} ` +
        "(a record cut short or failing its checksum, as a crash in the middle of a write leaves it)");
      fs.ftruncateSync(this.fd, end);
      fs.fdatasyncSync(this.fd);
    }
    this.logBytes = end;
    if (skipped.length) {
      const saved = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      fs.writeFileSync(saved, bytes, { mode: 0o600, flush: true });
      this.loadReport.savedAs = saved;
      for (const r of skipped) {
        options.warn?.(`head storage ${file}: skipped a corrupt record at offset ${r.offset} (${r.bytes} byte(s): ${r.reason}); ` +
          "the records after it were loaded");
      }
      options.warn?.(`head storage ${file}: ${skipped.length} record(s) skipped; the log as it was is saved in ${saved} ` +
        "(offsets refer to it) and the log was rewritten without them. " +
        "Tip: what a skipped record held (an actor, a job, a kv key or a node as it last changed) is lost or older; check them with 'helios status'.");
      this.compact();
    }
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
    // Never persist what the next load would refuse (it would be skipped as corrupt).
    if (!TABLES.has(rec[0]) || typeof rec[1] !== "string" || rec[1].length === 0) {
      throw new TypeError(`head storage: refusing a record for table ${JSON.stringify(rec[0])} with key ${describeKey(rec[1])}: ` +
        "keys are non-empty strings of a known table. Tip: validate the request that led here at the edge (src/rpc/schema.ts).");
    }
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

  /**
   * Apply the records of a log, skipping bad ones that have valid records after them. `end`: where
   * the loaded part ends (a torn tail starts there).
   */
  private replay(bytes: Buffer): { end: number; records: number; skipped: SkippedRecord[] } {
    const skipped: SkippedRecord[] = [];
    let off = 0;
    let records = 0;
    while (off < bytes.length) {
      const r = readRecord(bytes, off);
      if ("rec" in r) {
        this.apply(r.rec, Buffer.from(bytes.subarray(off, r.end)));
        records++;
        off = r.end;
        continue;
      }
      // Whole and intact but not a record (a key that is not a string): its end is where it says.
      const next = "framed" in r ? r.framed : resync(bytes, off);
      if (next === undefined) break;   // nothing valid after it: a torn tail
      skipped.push({ offset: off, bytes: next - off, reason: r.bad });
      off = next;
    }
    return { end: off, records, skipped };
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

const TABLES: ReadonlySet<string> = new Set<TableName>(["nodes", "actors", "jobs", "kv"]);

const describeKey = (k: unknown): string => typeof k === "string" ? JSON.stringify(k.slice(0, 80)) : k === null ? "null" : typeof k;

/** The record at `off`, or why there is none (`framed`: its frame is whole, its checksum matches; where it ends). */
function readRecord(bytes: Buffer, off: number): { rec: [TableName, string, unknown?]; end: number } | { bad: string; framed?: number } {
  if (off + HEADER > bytes.length) return { bad: "cut short" };
  const len = bytes.readUInt32LE(off);
  const end = off + HEADER + len;
  if (len === 0 || end > bytes.length) return { bad: len === 0 ? "empty" : "cut short" };
  const payload = bytes.subarray(off + HEADER, end);
  if (crc32(payload) !== bytes.readUInt32LE(off + 4)) return { bad: "checksum mismatch" };
  let rec: unknown;
  try { rec = packr.unpack(payload); } catch { return { bad: "not msgpack", framed: end }; }
  if (!Array.isArray(rec) || (rec.length !== 2 && rec.length !== 3) || !TABLES.has(rec[0])) return { bad: "not a [table, key, value?] record", framed: end };
  if (typeof rec[1] !== "string" || rec[1].length === 0) return { bad: `its key is ${describeKey(rec[1])}, not a non-empty string`, framed: end };
  return { rec: rec as [TableName, string, unknown?], end };
}

/**
 * Where the next valid record after a bad one at `off` starts, if any: where the bad record's
 * length says it ends (a flipped byte in its payload or checksum), else the first offset, byte
 * by byte, where a valid record is (its length was damaged too, or garbage was written there).
 */
function resync(bytes: Buffer, off: number): number | undefined {
  if (off + HEADER <= bytes.length) {
    const end = off + HEADER + bytes.readUInt32LE(off);
    const at = end < bytes.length ? readRecord(bytes, end) : undefined;
    if (at && ("rec" in at || at.framed)) return end;
  }
  for (let p = off + 1; p + HEADER < bytes.length; p++) if ("rec" in readRecord(bytes, p)) return p;
  return undefined;
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
