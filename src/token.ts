// Cluster tokens kept in files: `helios start --head` writes $HELIOS_HOME/token (mode 0600),
// and a machine or script that joins reads a copy of it (--token-file, HELIOS_TOKEN_FILE,
// init({ tokenFile })), which keeps the token off command lines, where `ps` shows it to every
// user. A token file that other users may read or change is refused, as ssh refuses such a key.
import * as fs from "node:fs";
import { InvalidArgumentError } from "./errors.js";
import { checkToken } from "./options.js";

/** The token in `file`, checked: `readTokenFile("/home/me/.helios/token", "helios start")`. */
export function readTokenFile(file: string, where: string): string {
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch (e) {
    throw new InvalidArgumentError(`${where}: cannot read the token file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). ` +
      "Tip: copy the head machine's $HELIOS_HOME/token there (scp -p keeps it private), or give its path.");
  }
  if (!st.isFile()) throw new InvalidArgumentError(`${where}: the token file ${file} is not a file. Tip: give the path of the file 'helios start --head' wrote.`);
  if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
    throw new InvalidArgumentError(`${where}: the token file ${file} can be read or changed by other users (mode ${(st.mode & 0o777).toString(8)}), ` +
      `so it is not used. Tip: chmod 600 ${file}.`);
  }
  return checkToken(fs.readFileSync(file, "utf8").trim(), `${where} (token file ${file})`);
}
