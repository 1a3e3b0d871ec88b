// Object transfer between nodes, agent to agent: a node pulls a stored object from the node
// holding it in chunks (several in flight) into its own store, once per node however many
// local tasks want it. The serving side remembers who copied, so a free reaches every copy.
// Ids from peers are checked before anything else (objectId): one that is not an object id
// (`../../etc/x`, an absolute path) gets InvalidIdError and names no file.
import * as fs from "node:fs";
import * as path from "node:path";
import { WireServer, connect, type Connection } from "../src/rpc/wire.js";
import { unexpected, type IncomingMessage } from "../src/rpc/messages.js";
import { objectId, type ObjectId } from "../src/ids.js";
import { pullChunks, readChunk } from "../src/rpc/chunks.js";
import { LocalStore } from "../src/object-store/local-store.js";

export class ObjectTransfer {
  readonly server: WireServer;
  private pulls = new Map<ObjectId, Promise<void>>();
  private copies = new Map<ObjectId, Set<string>>();
  private conns = new Map<string, Promise<Connection>>();
  address = "";
  /** Bytes served to other nodes and pulled from them (how often objects crossed the network). */
  readonly stats = { servedBytes: 0, pulledBytes: 0, pulls: 0 };

  private store: LocalStore;

  constructor(private storeDir: string, private token: string) {
    this.store = new LocalStore(storeDir);
    this.server = new WireServer(token, (conn) => { conn.onRequest = (m) => this.serve(m); });
  }

  async listen(host: string, port = 0): Promise<string> {
    this.address = await this.server.listen(host, port);
    return this.address;
  }

  /** Serving side of the chunk protocol (the same messages a remote driver's endpoint serves). */
  private serve(m: IncomingMessage): unknown {
    switch (m.t) {
      case "stat": {
        objectId(m.id);
        if (m.from) { const s = this.copies.get(m.id) ?? new Set(); s.add(m.from); this.copies.set(m.id, s); }
        return { size: this.store.size(m.id) };
      }
      case "read": {
        objectId(m.id);
        // By id, not by path, for each chunk: the object may move to the spill directory between two.
        const bytes = this.store.withFile(m.id, (f) => readChunk(f, m.offset, m.length));
        this.stats.servedBytes += bytes.length;
        return bytes;
      }
      case "free": objectId(m.id); this.free(m.id); return undefined;
      case "push": case "cancel": case "getObject": case "ping": case "logs": throw new Error(`unknown transfer message ${m.t}`);
      default: return unexpected(m);
    }
  }

  /** Make a local copy of `id` from the endpoint `from` (deduplicated per object). */
  fetch(id: ObjectId, from: string): Promise<void> {
    try { objectId(id); } catch (e) { return Promise.reject(e); }
    if (this.store.has(id)) return Promise.resolve();
    let p = this.pulls.get(id);
    if (!p) {
      p = this.pull(id, from).finally(() => this.pulls.delete(id));
      this.pulls.set(id, p);
    }
    return p;
  }

  private async pull(id: ObjectId, from: string): Promise<void> {
    const conn = await this.connection(from);
    const { size } = await conn.request({ t: "stat", id, from: this.address });
    const dir = this.store.placeFor(size);   // in memory if there is room (made room for), else spilled
    const tmp = path.join(dir, id) + ".part";
    try {
      const fd = fs.openSync(tmp, "w", 0o600);
      try {
        await pullChunks(conn, id, size, (offset, bytes) => { fs.writeSync(fd, bytes, 0, bytes.length, offset); });
      } finally { fs.closeSync(fd); }
      fs.renameSync(tmp, path.join(dir, id));
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    this.stats.pulls++;
    this.stats.pulledBytes += size;
  }

  free(id: ObjectId): void {
    this.store.recycle(id);
    const holders = this.copies.get(id);
    this.copies.delete(id);
    for (const h of holders ?? []) this.connection(h).then((c) => c.send({ t: "free", id }), () => {});
  }

  private connection(address: string): Promise<Connection> {
    let c = this.conns.get(address);
    if (!c) {
      c = connect(address, this.token);
      c.then((x) => x.once("close", () => this.conns.delete(address)), () => this.conns.delete(address));
      this.conns.set(address, c);
    }
    return c;
  }

  close(): void {
    this.server.close();
    for (const c of this.conns.values()) c.then((x) => x.close(), () => {});
  }
}
