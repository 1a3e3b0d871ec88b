// The service side of the Celery pattern: register work under a name and leave it running.
// A detached, named actor outlives this script; clients find it by name.
//   node examples/celery/service.mjs    (with HELIOS_ADDRESS/HELIOS_TOKEN of a running cluster)
import { init, remote, get, shutdown } from "helios";

const Tasks = remote(class Tasks {
  add(a, b) { return a + b; }
  mul(a, b) { return a * b; }
});

await init();
const t = Tasks.options({ name: "tasks", namespace: "celery", lifetime: "detached", getIfExists: true, maxRestarts: -1 }).remote();
await get(t.add.remote(0, 0));   // constructed and answering
console.log("service 'tasks' is registered in namespace 'celery'");
await shutdown();
