// runtimeEnv.workingDir: a directory packed (with excludes) into a tarball named by the SHA-256
// of its bytes, uploaded through the head, and unpacked by every agent that runs the job's work
// on another machine.
//
// The tarball is the project's code, which every node runs: the driver makes it in a private
// directory under HELIOS_HOME (0700; the file created exclusively, 0600), never at a name in the
// shared temp dir another user could read or plant first, and removes it once uploaded. The
// head stores an upload only when its bytes hash to its name (head/packages.ts); an agent
// checks the hash of what it downloaded before it unpacks it, into a private directory.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { HeadClient } from "../rpc/grpc.js";
import { InvalidIdError, PackageIntegrityError } from "../errors.js";
import { privateDir } from "./private-dir.js";

/** Never shipped: version-control data and Helios' own outputs. */
export const DEFAULT_EXCLUDES = [".git", ".helios", "bench/results"];
const CHUNK = 4 * 1024 * 1024;
/** A package larger than this is refused with a tip about excludes. */
export const MAX_PACKAGE_BYTES = 512 * 1024 * 1024;

/** A package's name: the SHA-256 of its bytes, in hex. */
export const PACKAGE_HASH = /^[0-9a-f]{64}$/;

export interface PackedDir { hash: string; file: string; size: number }

/** List the files under `dir` (relative paths, sorted), skipping excluded names or paths. */
export function listFiles(dir: string, excludes: string[] = []): string[] {
  const skip = new Set([...DEFAULT_EXCLUDES, ...excludes]);
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (skip.has(e.name) || skip.has(p)) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() || e.isSymbolicLink()) out.push(p);
    }
  };
  walk("");
  return out.sort();
}

/** Pack `dir` into a gzipped tar in the driver's private package directory, hashing the bytes as they are written. */
export async function packDir(dir: string, excludes: string[] = []): Promise<PackedDir> {
  const files = listFiles(dir, excludes);
  const { heliosHome } = await import("./daemons.js");
  const home = privateDir(heliosHome(), "HELIOS_HOME");
  const packages = privateDir(path.join(home, "packages"), "the driver's package directory");
  removeOrphans(packages);
  const file = path.join(packages, `${process.pid}-${randomBytes(8).toString("hex")}.tgz`);
  const fd = createExclusive(file);
  const h = createHash("sha256");
  let size = 0;
  try {
    try {
      const tar = await import("tar");   // loaded only when a directory is shipped
      for await (const chunk of tar.c({ gzip: true, cwd: dir, portable: true, noMtime: true }, files) as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_PACKAGE_BYTES) {
          throw new RangeError(`runtimeEnv.workingDir ${dir} packs to more than the ${MAX_PACKAGE_BYTES}-byte limit. Tip: add large folders to runtimeEnv.excludes.`);
        }
        h.update(chunk);
        writeAll(fd, chunk, size - chunk.length);
      }
    } finally { fs.closeSync(fd); }
  } catch (e) {
    fs.rmSync(file, { force: true });
    throw e;
  }
  return { hash: h.digest("hex"), file, size };
}

/**
 * Upload a packed directory to the head unless it already has it (content-addressed), then
 * remove the local tarball. The bytes sent are hashed again: a file changed since it was
 * packed is not sent under the hash of what was packed.
 */
export async function uploadPackage(head: HeadClient, p: PackedDir): Promise<void> {
  try {
    if ((await head.call("hasPackage", { hash: p.hash })).has) return;
    const fd = fs.openSync(p.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const h = createHash("sha256");
    try {
      for (let offset = 0; offset < p.size; offset += CHUNK) {
        const bytes = Buffer.allocUnsafe(Math.min(CHUNK, p.size - offset));
        if (fs.readSync(fd, bytes, 0, bytes.length, offset) !== bytes.length) throw changed(p);
        h.update(bytes);
        const last = offset + bytes.length >= p.size;
        if (last && h.digest("hex") !== p.hash) throw changed(p);
        await head.call("putPackageChunk", { hash: p.hash, offset, bytes, last });
      }
    } finally { fs.closeSync(fd); }
  } finally {
    fs.rmSync(p.file, { force: true });
  }
}

/** Download a package from the head, check its hash, and unpack it into `into` (once; later calls reuse it). */
export async function fetchPackage(head: HeadClient, hash: string, into: string): Promise<string> {
  if (typeof hash !== "string" || !PACKAGE_HASH.test(hash)) {
    throw new InvalidIdError(`${JSON.stringify(hash)?.slice(0, 80)} is not a package hash (64 hex digits). Tip: the job was registered by a driver of another Helios version; use one version across the cluster.`);
  }
  const dir = path.join(into, hash);
  if (fs.existsSync(path.join(dir, ".helios-complete"))) return dir;
  privateDir(into, "the node's package directory");
  const stage = path.join(into, `${hash}.${process.pid}-${randomBytes(8).toString("hex")}`);
  const file = stage + ".tgz";
  try {
    const fd = createExclusive(file);
    const h = createHash("sha256");
    try {
      for (let offset = 0; ; ) {
        const r = await head.call("getPackageChunk", { hash, offset, length: CHUNK });
        if (offset + r.bytes.length > MAX_PACKAGE_BYTES) throw new PackageIntegrityError(`package ${hash} is larger than ${MAX_PACKAGE_BYTES} bytes. Tip: check the head's package directory.`);
        h.update(r.bytes);
        writeAll(fd, r.bytes, offset);
        offset += r.bytes.length;
        if (offset >= r.size || r.bytes.length === 0) break;
      }
    } finally { fs.closeSync(fd); }
    const got = h.digest("hex");
    if (got !== hash) {
      throw new PackageIntegrityError(`package ${hash} as downloaded from the head hashes to ${got}: not unpacked. ` +
        "Tip: the head's copy is damaged; remove it from the head's storage (packages/) and start the driver again to upload it anew.");
    }
    privateDir(stage, "the package's directory");
    const tar = await import("tar");
    // preservePaths false: tar strips a leading '/' (of paths and link targets) and refuses '..' and writes through
    // symbolic links, so nothing lands outside `stage`. An entry it refused fails the unpack (our packer makes none).
    const refused: string[] = [];
    await tar.x({ file, cwd: stage, preservePaths: false, preserveOwner: false,
      onwarn: (code, message) => { if (code !== "TAR_ENTRY_INFO") refused.push(String(message)); } });
    if (refused.length) {
      throw new PackageIntegrityError(`package ${hash} has entries that would land outside its directory (${refused[0]}): not used. ` +
        "Tip: ship a plain project directory; Helios never packs such entries itself.");
    }
    fs.writeFileSync(path.join(stage, ".helios-complete"), "", { mode: 0o600 });
    try { fs.renameSync(stage, dir); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;   // another fetch of it finished first: use that one
    }
    return dir;
  } finally {
    fs.rmSync(file, { force: true });
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** Tarballs of drivers that died before they removed theirs (named `<pid>-…`). */
function removeOrphans(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(name.split("-")[0]);
    if (pid > 0 && !alive(pid)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === "EPERM"; }
}

/** A new file only this user can read; EEXIST rather than write into a file someone made first. */
function createExclusive(file: string): number {
  const c = fs.constants;
  return fs.openSync(file, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, 0o600);
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off, position + off);
}

function changed(p: PackedDir): PackageIntegrityError {
  return new PackageIntegrityError(`the package file ${p.file} changed after it was packed as ${p.hash}: not uploaded. Tip: start the driver again.`);
}
