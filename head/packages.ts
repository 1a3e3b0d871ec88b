// Code packages (runtimeEnv.workingDir), named by the SHA-256 of their bytes and kept on the
// head's disk, in a private directory. An upload is stored under its name only when the bytes
// received hash to that name, so no client can make the nodes unpack (and their workers run)
// other code under a package's name; the agents check the hash again before they unpack.
import { createHash, type Hash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { readChunk } from "../src/rpc/chunks.js";
import { privateDir } from "../src/cluster/private-dir.js";
import { MAX_PACKAGE_BYTES, PACKAGE_HASH } from "../src/cluster/package.js";
import { InvalidIdError, PackageIntegrityError } from "../src/errors.js";

const READ = 4 * 1024 * 1024;

export class PackageStore {
  /** Uploads under way: the hash of the bytes received so far, and how many there are. */
  private uploads = new Map<string, { hash: Hash; size: number }>();

  constructor(private dir: string) { privateDir(dir, "the head's package directory"); }

  private file(hash: string): string {
    if (typeof hash !== "string" || !PACKAGE_HASH.test(hash)) {
      throw new InvalidIdError(`${JSON.stringify(hash)?.slice(0, 80)} is not a package hash (64 hex digits, the SHA-256 of the package). ` +
        "Tip: upload packages with init({ runtimeEnv: { workingDir } }), which names them.");
    }
    return path.join(this.dir, `${hash}.tgz`);
  }

  handlers() {
    return {
      hasPackage: (r: { hash: string }) => ({ has: fs.existsSync(this.file(r.hash)) }),
      putPackageChunk: (r: { hash: string; offset: number; bytes: Uint8Array; last: boolean }) => {
        const file = this.file(r.hash);
        if (fs.existsSync(file)) return {};   // complete already (a call sent again after a head restart)
        const end = r.offset + r.bytes.length;
        if (!Number.isSafeInteger(r.offset) || r.offset < 0 || end > MAX_PACKAGE_BYTES) {
          throw new RangeError(`a package chunk at offset ${r.offset} of ${r.bytes.length} bytes lies outside 0..${MAX_PACKAGE_BYTES}. ` +
            "Tip: add large folders to runtimeEnv.excludes.");
        }
        const part = file + ".part";
        const upload = this.received(r.hash, part, r.offset);
        const fd = fs.openSync(part, r.offset === 0 ? "w" : "r+", 0o600);
        try {
          fs.writeSync(fd, r.bytes, 0, r.bytes.length, r.offset);
          fs.ftruncateSync(fd, end);
        } finally { fs.closeSync(fd); }
        upload.hash.update(r.bytes);
        upload.size = end;
        if (!r.last) return {};
        this.uploads.delete(r.hash);
        const got = upload.hash.digest("hex");
        if (got !== r.hash) {
          fs.rmSync(part, { force: true });
          throw new PackageIntegrityError(`the ${end} bytes uploaded as package ${r.hash} hash to ${got}: refused. ` +
            "Tip: the package changed or was corrupted on its way; start the driver again to pack and upload it anew.");
        }
        fs.renameSync(part, file);
        return {};
      },
      getPackageChunk: (r: { hash: string; offset: number; length: number }) => {
        const file = this.file(r.hash);
        return { bytes: readChunk(file, r.offset, r.length), size: fs.statSync(file).size };
      },
    };
  }

  /**
   * The hash of the first `offset` bytes of an upload: kept from its last chunk, or read back
   * from its part file when the chunks came otherwise (a head restarted mid-upload, a call sent
   * again, two drivers uploading one package).
   */
  private received(name: string, part: string, offset: number): { hash: Hash; size: number } {
    let upload = this.uploads.get(name);
    if (offset === 0 || !upload || upload.size !== offset) {
      upload = { hash: createHash("sha256"), size: offset };
      if (offset > 0) {
        const have = fs.statSync(part, { throwIfNoEntry: false })?.size ?? 0;
        if (have < offset) {
          throw new PackageIntegrityError(`a chunk of package ${name} at offset ${offset} came before the bytes in front of it (${have} received). ` +
            "Tip: upload the package in order, from offset 0.");
        }
        for (let at = 0; at < offset; at += READ) upload.hash.update(readChunk(part, at, Math.min(READ, offset - at)));
      }
      this.uploads.set(name, upload);
    }
    return upload;
  }
}
