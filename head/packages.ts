// Code packages (runtimeEnv.workingDir), content-addressed by hash, kept on the head's disk.
import * as fs from "node:fs";
import * as path from "node:path";
import { readChunk } from "../src/rpc/chunks.js";

export class PackageStore {
  constructor(private dir: string) { fs.mkdirSync(dir, { recursive: true }); }

  private file(hash: string): string {
    if (!/^[0-9a-f]{8,64}$/.test(hash)) throw new TypeError(`bad package hash ${JSON.stringify(hash)}`);
    return path.join(this.dir, `${hash}.tgz`);
  }

  handlers() {
    return {
      hasPackage: (r: { hash: string }) => ({ has: fs.existsSync(this.file(r.hash)) }),
      putPackageChunk: (r: { hash: string; offset: number; bytes: Uint8Array; last: boolean }) => {
        if (fs.existsSync(this.file(r.hash))) return {};   // complete already (a call sent again after a head restart)
        const part = this.file(r.hash) + ".part";
        const fd = fs.openSync(part, r.offset === 0 ? "w" : "r+");
        try { fs.writeSync(fd, r.bytes, 0, r.bytes.length, r.offset); } finally { fs.closeSync(fd); }
        if (r.last) fs.renameSync(part, this.file(r.hash));
        return {};
      },
      getPackageChunk: (r: { hash: string; offset: number; length: number }) => {
        const file = this.file(r.hash);
        return { bytes: readChunk(file, r.offset, r.length), size: fs.statSync(file).size };
      },
    };
  }
}
