// Module resolution hooks for worker processes: `import "helios"` from user code (which may
// come from a shipped copy of the project with its own node_modules/helios) resolves to the
// worker's own Helios, so user code and the worker share one runtime.
const own: Record<string, string> = {
  helios: new URL("../index.js", import.meta.url).href,
  "helios/util": new URL("../util/index.js", import.meta.url).href,
};

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string; shortCircuit?: boolean }> {
  const url = own[specifier];
  if (url) return { url, shortCircuit: true };
  return next(specifier, context);
}
