// Optional mutual TLS for every channel (gRPC control plane and wire hot path). Configured
// by HELIOS_TLS_CERT / HELIOS_TLS_KEY / HELIOS_TLS_CA (file paths), which the CLI flags
// --tls-cert/--tls-key/--tls-ca set and child processes inherit. Servers require a client
// certificate signed by the cluster CA, so a peer with a certificate from another CA is refused.
import * as fs from "node:fs";
import { setting } from "../config.js";

export interface TlsFiles { cert: Buffer; key: Buffer; ca: Buffer }

let cached: TlsFiles | null | undefined;

/** The TLS material of this process, or null when TLS is off. */
export function tlsConfig(): TlsFiles | null {
  if (cached !== undefined) return cached;
  const [cert, key, ca] = [setting("HELIOS_TLS_CERT"), setting("HELIOS_TLS_KEY"), setting("HELIOS_TLS_CA")];
  if (!cert && !key && !ca) return (cached = null);
  if (!cert || !key || !ca) {
    throw new TypeError("TLS needs all three of HELIOS_TLS_CERT, HELIOS_TLS_KEY and HELIOS_TLS_CA (or --tls-cert, --tls-key, --tls-ca)");
  }
  return (cached = { cert: fs.readFileSync(cert), key: fs.readFileSync(key), ca: fs.readFileSync(ca) });
}

/** For tests and init({ tls }): set the files explicitly. */
export function setTlsFiles(files: { cert: string; key: string; ca: string } | null): void {
  if (!files) { cached = null; return; }
  process.env.HELIOS_TLS_CERT = files.cert;
  process.env.HELIOS_TLS_KEY = files.key;
  process.env.HELIOS_TLS_CA = files.ca;
  cached = undefined;
}
