// The client side of the Celery pattern: a separate script calls the service by name, with
// retries and exponential back-off while the service is missing or restarting.
//   node examples/celery/client.mjs     (with HELIOS_ADDRESS/HELIOS_TOKEN of a running cluster)
import { init, get, getActor, shutdown, ActorDiedError, ActorUnavailableError } from "helios";

/** Call `method` of the named service, retrying with back-off (100 ms, 200 ms, … up to `tries`). */
async function call(method, args, { tries = 6 } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      const service = await getActor("tasks", { namespace: "celery" });
      return await get(service[method].remote(...args), { timeout: 10_000 });
    } catch (e) {
      const retriable = e instanceof ActorDiedError || e instanceof ActorUnavailableError;
      if (!retriable || attempt >= tries) throw e;
      await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
    }
  }
}

await init();
console.log(`add(4, 4) = ${await call("add", [4, 4])}`);
console.log(`mul(6, 7) = ${await call("mul", [6, 7])}`);
await shutdown();
