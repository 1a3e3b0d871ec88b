// Shared by the head and agent daemons: exit cleanly on SIGTERM/SIGINT, and when started
// by a driver (HELIOS_PARENT=1), exit when the driver's end of stdin closes — which the
// kernel does even when the driver is SIGKILLed — so no daemon outlives its owner.
export function exitWithParent(cleanup: () => void): void {
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    try { cleanup(); } finally { process.exit(0); }
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (process.env.HELIOS_PARENT === "1") {
    process.stdin.on("end", stop);
    process.stdin.on("error", stop);
    process.stdin.resume();
  }
}
