// The node agent's side of the object store's capacity: it counts the bytes in the store as
// files come and go (inotify on the store directory, no message from the writers), publishes
// the figure in `.usage` for the node's processes to read before they write, and, above
// capacity, spills the oldest objects to the spill directory until the store is down to
// LOW_WATER of its capacity. Writers that find no room make room themselves (store.ts), so
// this is what keeps the store below capacity when nobody is writing.
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalStore, isObjectFile, type StoreConfig } from "../src/object-store/local-store.js";
import type { ObjectId } from "../src/ids.js";
import { privateDir } from "../src/cluster/private-dir.js";

/** After spilling, the store holds at most this share of its capacity. */
const LOW_WATER = 0.8;

/** The object store's numbers, as the agent's info reports them. */
import type { ObjectStoreStats as StoreStats } from "../src/protocol.js";
export type { StoreStats };

export class StoreMonitor {
  private readonly store: LocalStore;
  /** Objects in the store directory, in order of arrival (the oldest spill first). */
  private readonly sizes = new Map<string, number>();
  private used = 0;
  private watcher?: fs.FSWatcher;
  private scheduled = false;
  private spilling = false;
  private lastPublished = -1;
  /** The total when spilling last failed (the spill disk is full): not tried again until it changes. */
  private failedAt = -1;

  constructor(readonly dir: string, readonly config: StoreConfig) {
    privateDir(config.spillDir, "the object spill directory");
    fs.writeFileSync(path.join(config.spillDir, ".agent-pid"), `${process.pid}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, ".store.json"), JSON.stringify(config), { mode: 0o600 });
    this.store = new LocalStore(dir);
  }

  start(): void {
    this.watcher = fs.watch(this.dir, (_event, name) => { if (name) this.changed(name); });
    this.watcher.on("error", () => {});
    for (const name of fs.readdirSync(this.dir)) this.changed(name);
    this.schedule();
  }

  stats(): StoreStats {
    let spilledObjects = 0;
    let spilledBytes = 0;
    try {
      for (const name of fs.readdirSync(this.config.spillDir)) {
        if (!isObjectFile(name)) continue;
        try { spilledBytes += fs.statSync(path.join(this.config.spillDir, name)).size; spilledObjects++; } catch { /* freed meanwhile */ }
      }
    } catch { /* no spill directory */ }
    return { capacity: this.config.capacity, usedBytes: this.total(), objects: this.sizes.size, spillDir: this.config.spillDir, spilledObjects, spilledBytes };
  }

  close(): void {
    this.watcher?.close();
    fs.rmSync(this.config.spillDir, { recursive: true, force: true });
  }

  /** A name in the store directory was created, renamed or removed: look at what is there now. */
  private changed(name: string): void {
    if (!isObjectFile(name)) return;
    const before = this.sizes.get(name);
    let size: number | undefined;
    try { size = fs.statSync(path.join(this.dir, name)).size; } catch { /* gone */ }
    if (size === before) return;
    if (before !== undefined) { this.used -= before; this.sizes.delete(name); }
    if (size !== undefined) { this.used += size; this.sizes.set(name, size); }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => { this.scheduled = false; this.publish(); });
  }

  /** Objects plus the freed segments kept for reuse. */
  private total(): number {
    return this.used + this.store.pooledBytes();
  }

  private publish(): void {
    const total = this.total();
    if (total !== this.lastPublished) {
      const tmp = path.join(this.dir, `.usage.${process.pid}`);
      fs.writeFileSync(tmp, String(total), { mode: 0o600 });
      fs.renameSync(tmp, path.join(this.dir, ".usage"));
      this.lastPublished = total;
    }
    if (total > this.config.capacity && !this.spilling && total !== this.failedAt) void this.spillDown();
  }

  /** Freed segments first, then the oldest objects to disk, until the store is at LOW_WATER. */
  private async spillDown(): Promise<void> {
    this.spilling = true;
    const target = this.config.capacity * LOW_WATER;
    try {
      for (const s of this.store.segments()) {
        if (this.total() <= target) return;
        fs.rmSync(path.join(this.dir, ".pool", s.name), { force: true });
      }
      for (const name of [...this.sizes.keys()]) {
        if (this.total() <= target) return;
        try {
          await this.store.spill(name as ObjectId);
        } catch {   // the spill disk is full: writers that find no room get ObjectStoreFullError
          this.failedAt = this.total();
          return;
        }
        this.changed(name);
      }
    } finally {
      this.spilling = false;
      this.schedule();
    }
  }
}
