// Many async calls gathered at once (asyncio.gather): 200 lookups on an async actor that
// serves up to 100 at a time, plus 20 tasks, all awaited together.
// Run: node examples/gather.mjs
import { init, shutdown, remote, get } from "helios";
import { progress } from "helios/util";

const Service = remote(class Service {
  /** An I/O-bound call: it waits 50 ms (a stand-in for a network round trip), then answers. */
  async lookup(id) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { id, value: id * 2 };
  }
});
const cube = remote((x) => x ** 3);

await init();
const service = Service.options({ maxConcurrency: 100 }).remote();   // async methods interleave
const started = Date.now();
const lookups = Array.from({ length: 200 }, (_, i) => service.lookup.remote(i));
const [answers, cubes] = await Promise.all([
  progress(lookups, { label: "lookups" }),          // a bar on a terminal, silent when piped
  get(Array.from({ length: 20 }, (_, i) => cube.remote(i))),
]);
const ms = Date.now() - started;
console.log(`gathered ${answers.length} lookups and ${cubes.length} cubes in ${ms} ms (200 × 50 ms one after another would take 10000 ms)`);
console.log(`sum of lookups = ${answers.reduce((s, a) => s + a.value, 0)}; sum of cubes = ${cubes.reduce((a, b) => a + b, 0)}`);
await shutdown();
