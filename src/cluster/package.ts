// runtimeEnv.workingDir: a directory packed once (content-hashed, with excludes), uploaded
// through the head, and unpacked by every agent that runs the job's work on another machine.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { RpcClient } from "../rpc/grpc.js";

/** Never shipped: version-control data and Helios' own outputs. */
export const DEFAULT_EXCLUDES = [".git", ".helios", "bench/results"];
const CHUNK = 4 * 1024 * 1024;
/** A package larger than this is refused with a tip about excludes. */
export const MAX_PACKAGE_BYTES = 512 * 1024 * 1024;

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

/** Pack `dir` into a gzipped tar in the temp dir; the hash covers paths and contents only. */
export async function packDir(dir: string, excludes: string[] = []): Promise<PackedDir> {
  const files = listFiles(dir, excludes);
  const h = createHash("sha256");
  for (const f of files) {
    const full = path.join(dir, f);
    const st = fs.lstatSync(full);
    h.update(f + "\0" + (st.isSymbolicLink() ? "->" + fs.readlinkSync(full) : "")).update("\0");
    if (!st.isSymbolicLink()) h.update(fs.readFileSync(full));
  }
  const hash = h.digest("hex").slice(0, 24);
  const file = path.join(os.tmpdir(), `helios-pkg-${hash}.tgz`);
  if (!fs.existsSync(file)) {
    const tar = await import("tar");   // loaded only when a directory is shipped
    await tar.c({ gzip: true, cwd: dir, file: file + ".tmp", portable: true, noMtime: true }, files);
    fs.renameSync(file + ".tmp", file);
  }
  const size = fs.statSync(file).size;
  if (size > MAX_PACKAGE_BYTES) {
    throw new RangeError(`runtimeEnv.workingDir ${dir} packs to ${size} bytes, over the ${MAX_PACKAGE_BYTES}-byte limit. Tip: add large folders to runtimeEnv.excludes.`);
  }
  return { hash, file, size };
}

/** Upload a packed directory to the head unless it already has it (content-addressed). */
export async function uploadPackage(head: RpcClient, p: PackedDir): Promise<void> {
  if ((await head.call<{ has: boolean }>("hasPackage", { hash: p.hash })).has) return;
  const fd = fs.openSync(p.file, "r");
  try {
    for (let offset = 0; offset < p.size; offset += CHUNK) {
      const bytes = Buffer.allocUnsafe(Math.min(CHUNK, p.size - offset));
      fs.readSync(fd, bytes, 0, bytes.length, offset);
      await head.call("putPackageChunk", { hash: p.hash, offset, bytes, last: offset + bytes.length >= p.size });
    }
  } finally { fs.closeSync(fd); }
}

/** Download a package from the head and unpack it into `into` (once; later calls reuse it). */
export async function fetchPackage(head: RpcClient, hash: string, into: string): Promise<string> {
  const dir = path.join(into, hash);
  if (fs.existsSync(path.join(dir, ".helios-complete"))) return dir;
  const file = path.join(into, `${hash}.tgz`);
  fs.mkdirSync(into, { recursive: true });
  const fd = fs.openSync(file, "w");
  try {
    for (let offset = 0; ; ) {
      const r = await head.call<{ bytes: Uint8Array; size: number }>("getPackageChunk", { hash, offset, length: CHUNK });
      fs.writeSync(fd, r.bytes, 0, r.bytes.length, offset);
      offset += r.bytes.length;
      if (offset >= r.size || r.bytes.length === 0) break;
    }
  } finally { fs.closeSync(fd); }
  fs.mkdirSync(dir, { recursive: true });
  const tar = await import("tar");
  await tar.x({ file, cwd: dir });
  fs.writeFileSync(path.join(dir, ".helios-complete"), "");
  fs.rmSync(file, { force: true });
  return dir;
}
