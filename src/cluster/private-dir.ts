// Directories that hold what only this user may read (stored objects, spilled objects, shipped
// code, a session's logs) are created 0700 whatever the umask. Several live in places every
// local user can write to (/dev/shm, /tmp), where another user could create a directory of the
// expected name first, to read what we put there or to plant files we would use: one that exists
// already is used only when it is a real directory (not a symbolic link) owned by this user, and
// narrowed to 0700 if it was more open.
import * as fs from "node:fs";
import * as path from "node:path";
import { UnsafeDirectoryError } from "../errors.js";

/** Create `dir` (and its parents) as a private directory, or check the one there; `what` names it in errors. */
export function privateDir(dir: string, what: string): string {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  try { fs.mkdirSync(dir, { mode: 0o700 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e; }
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ELOOP" && code !== "ENOTDIR") throw e;
    const link = fs.lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink();
    throw new UnsafeDirectoryError(`${what} ${dir} exists and is not a directory (${link ? "a symbolic link" : "a file"}): ` +
      `Helios will not keep private data behind it. Tip: remove it (rm ${dir}) and start again.`);
  }
  try {
    // Checked and narrowed through the open directory: what was checked is what is changed.
    const st = fs.fstatSync(fd);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new UnsafeDirectoryError(`${what} ${dir} exists and belongs to user ${st.uid}, not to this user (${uid}): ` +
        "another user may have created it to read or replace what Helios keeps there, so it is not used. " +
        `Tip: remove it (as its owner or root: rm -r ${dir}), or point Helios at a directory of your own.`);
    }
    if ((st.mode & 0o777) !== 0o700) fs.fchmodSync(fd, 0o700);
  } finally { fs.closeSync(fd); }
  return dir;
}
