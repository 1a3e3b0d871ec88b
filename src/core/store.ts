// The node's object store as seen by a core worker: one file per large object in the
// node's store directory (in /dev/shm when it is large enough). The agent creates the
// directory and removes it with the node; owners remove objects they free.
import * as fs from "node:fs";
import * as path from "node:path";
import type { ObjectId } from "../ids.js";
import type { Serialized } from "../serialization.js";

export class LocalStore {
  constructor(readonly dir: string) {}

  path(id: ObjectId): string { return path.join(this.dir, id); }

  write(id: ObjectId, value: Serialized): void {
    const tmp = this.path(id) + ".tmp";
    const fd = fs.openSync(tmp, "w");
    try {
      let pos = 0;
      for (const c of value.chunks) {
        let off = 0;
        while (off < c.byteLength) off += fs.writeSync(fd, c, off, c.byteLength - off, pos + off);
        pos += c.byteLength;
      }
    } finally { fs.closeSync(fd); }
    fs.renameSync(tmp, this.path(id));
  }

  read(id: ObjectId): Buffer { return fs.readFileSync(this.path(id)); }

  remove(id: ObjectId): void { fs.rm(this.path(id), { force: true }, () => {}); }
}
