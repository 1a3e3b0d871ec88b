// Module resolution hooks for worker processes: `import "helios"` from user code (which may
// come from a shipped copy of the project with its own node_modules/helios) resolves to the
// worker's own Helios, so user code and the worker share one runtime.
const own = new URL("../index.js", import.meta.url).href;

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier === "helios") return { url: own, shortCircuit: true };
  return next(specifier, context);
}
