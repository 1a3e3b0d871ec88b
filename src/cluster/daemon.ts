// Shared by the head and agent daemons: exit cleanly on SIGTERM/SIGINT, and when started
// by a driver (HELIOS_PARENT=1), exit when the driver's end of stdin closes — which the
// kernel does even when the driver is SIGKILLed — so no daemon outlives its owner.
import { setting } from "../config.js";
export function exitWithParent(cleanup: () => void): void {
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    try { cleanup(); } finally { process.exit(0); }
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (setting("HELIOS_PARENT")) {
    process.stdin.on("end", stop);
    process.stdin.on("error", stop);
    process.stdin.resume();
  }
}

/**
 * The environment a head or agent daemon starts with. Node (with OpenSSL 3) parses the
 * certificates of NODE_EXTRA_CA_CERTS, and builds its bundled root store with them, at
 * start-up: 50–80 ms of CPU per process for a system bundle. The daemons never use that
 * store (Helios's TLS always names its CA), so they start without it; the agent hands it
 * back to the workers it starts (workerEnv), where user code may need it.
 */
export function daemonEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: extra, ...rest } = env;
  // msgpackr's native string extractor (20 ms to load) pays off only for large string-heavy
  // messages, which the control plane does not carry; the user's setting wins.
  const out = { MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true", ...rest };
  return extra === undefined ? out : { ...out, HELIOS_NODE_EXTRA_CA_CERTS: extra };
}

/** A worker's environment from its agent's: as the user's, with NODE_EXTRA_CA_CERTS back (and not the boot job). */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { HELIOS_NODE_EXTRA_CA_CERTS: extra, HELIOS_JOB: _job, ...rest } = env;
  return extra === undefined ? rest : { ...rest, NODE_EXTRA_CA_CERTS: extra };
}
