// Where a wire server on this host also listens on a Unix socket: a file in a directory only this
// user can enter, named after the network namespace and the server's host:port. Peers of the same
// user on the same host find it from the address alone; other local users cannot connect to it,
// create it, or take its name (an abstract socket name could be taken by anyone, and a client
// would have talked to whoever held it). The namespace's inode keeps two namespaces' 127.0.0.1:port
// apart, as abstract names were. HELIOS_SOCKET_DIR overrides the directory.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setting } from "../config.js";

/** sun_path holds 108 bytes with its NUL; longer paths cannot be bound. */
const MAX_PATH = 107;

let dir: string | null | undefined;
let netns: string | undefined;
const warned = new Set<string>();

/** The private socket directory, made 0700 if missing; null (TCP only) when it is not safely ours. */
export function socketDir(): string | null {
  if (dir !== undefined) return dir;
  const uid = process.getuid?.() ?? 0;
  const d = setting("HELIOS_SOCKET_DIR") || path.join(os.tmpdir(), `helios-${uid}`);
  try {
    try { fs.mkdirSync(d, { mode: 0o700 }); } catch (e: any) { if (e.code !== "EEXIST") throw e; }
    const st = fs.lstatSync(d);
    if (!st.isDirectory()) throw new Error("it is not a directory");
    if (st.uid !== uid) throw new Error(`it belongs to uid ${st.uid}, not to this user (uid ${uid})`);
    if ((st.mode & 0o077) !== 0) throw new Error(`its mode is ${(st.mode & 0o777).toString(8)}, not 700`);
    dir = d;
  } catch (e) {
    warnOnce("dir", `helios: not using Unix sockets between local processes: ${d} cannot be used (${(e as Error).message}); ` +
      "peers on this host talk over TCP. Tip: remove that path, or set HELIOS_SOCKET_DIR to a directory only this user can enter.");
    dir = null;
  }
  return dir;
}

/** The socket file of the wire server at host:port in this network namespace, or null (none can be used). */
export function socketPath(host: string, port: number): string | null {
  const d = socketDir();
  if (!d) return null;
  netns ??= namespaceId();
  const p = path.join(d, `w-${netns}-${host.replace(/[^A-Za-z0-9.-]/g, "_")}-${port}`);
  return p.length <= MAX_PATH ? p : null;
}

/** host:port → [host, port] (the host may hold colons: IPv6). */
export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(":");
  return [address.slice(0, i), Number(address.slice(i + 1))];
}

function namespaceId(): string {
  try { return /\[(\d+)\]/.exec(fs.readlinkSync("/proc/self/ns/net"))?.[1] ?? "0"; } catch { return "0"; }
}

/** Say it once per process (a daemon's log is read by people; a loop of the same line hides the rest). */
export function warnOnce(key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  console.error(message);
}
