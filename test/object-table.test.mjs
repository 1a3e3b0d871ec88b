// The owner's object table alone: no process, no socket. A fake host records what the table
// asks of the rest of the owner (bytes discarded, lineage asked to rebuild or forget).
import test from "node:test";
import assert from "node:assert/strict";
import { ObjectTable } from "../dist/src/core/objects/object-table.js";
import { OBJECT_TRANSITIONS, IllegalObjectTransitionError } from "../dist/src/core/objects/object-states.js";
import { EventRing } from "../dist/src/core/events.js";

function setup({ rebuild = true } = {}) {
  const host = {
    refs: new Set(), discarded: [], storedBytes: 0, rebuilt: [], freedIds: [],
    hasRef(id) { return this.refs.has(id); },
    discard(id, v) { this.discarded.push(id); },
    stored(size) { this.storedBytes += size; },
    reconstruct(task, node) { this.rebuilt.push([task, node]); if (rebuild) for (const id of tasksReturns.get(task) ?? []) table.reset(id, node); return rebuild; },
    freed(id, task) { this.freedIds.push([id, task]); },
  };
  const tasksReturns = new Map();
  const events = new EventRing(1000);
  const table = new ObjectTable(host, events);
  /** A task return with a live handle in the process. */
  const pending = (id, task = id.split(".")[0]) => {
    host.refs.add(id);
    tasksReturns.set(task, [...(tasksReturns.get(task) ?? []), id]);
    table.pending(id, task);
  };
  return { host, table, events, pending };
}

const stored = (id, node = "n1") => ({ s: 200_000, id, node, at: `${node}:1` });
const inline = { v: new Uint8Array([1, 2, 3]) };
const states = (table, id) => table.story(id).map((e) => `${e.from ?? "(new)"}>${e.state}`);

test("every transition in the object table is reachable through the table's operations", () => {
  const seen = new Set();
  const note = (events) => { for (const e of events.drain()) if (e.kind === "object" && e.from) seen.add(`${e.from}>${e.state}`); };
  const { table, events, pending, host } = setup();
  pending("a.0"); table.resolve("a.0", { value: stored("a.0") });            // pending > ready
  table.lost("a.0", "n1");                                                    // ready > reconstructing (rebuilt)
  table.resolve("a.0", { value: inline });                                    // reconstructing > ready
  pending("b.0"); table.resolve("b.0", { error: { name: "TaskError", message: "x" } });   // pending > failed
  pending("c.0"); host.refs.delete("c.0"); table.dropped("c.0");              // pending > freed
  pending("d.0"); table.resolve("d.0", { value: stored("d.0") });
  table.reset("d.0", "n9");                                                   // ready > reconstructing (sibling)
  table.resolve("d.0", { error: { name: "TaskError", message: "x" } });       // reconstructing > failed
  table.reset("d.0", "n9");                                                   // failed > reconstructing
  host.refs.delete("d.0"); table.dropped("d.0");                              // reconstructing > freed
  pending("e.0"); table.resolve("e.0", { value: stored("e.0") });
  host.refs.delete("e.0"); table.dropped("e.0");                              // ready > freed
  pending("f.0"); table.resolve("f.0", { error: { name: "TaskError", message: "x" } });
  host.refs.delete("f.0"); table.dropped("f.0");                              // failed > freed
  note(events);
  const { table: t2, events: ev2, host: h2 } = setup({ rebuild: false });
  h2.refs.add("p1"); t2.put("p1", stored("p1"));
  t2.lost("p1", "n1");                                                        // ready > lost
  t2.reset("p1", "n1");                                                       // lost > reconstructing
  t2.resolve("p1", { value: inline });
  h2.refs.add("p2"); t2.put("p2", stored("p2")); t2.lost("p2", "n1");
  h2.refs.delete("p2"); t2.dropped("p2");                                     // lost > freed
  note(ev2);
  const table_ = [];
  for (const [from, tos] of Object.entries(OBJECT_TRANSITIONS)) for (const to of Object.keys(tos)) table_.push(`${from}>${to}`);
  assert.deepEqual(table_.filter((k) => !seen.has(k)), []);
});

test("a put is ready at once; a task return waits, and its waiters are called once when it settles", () => {
  const { table, pending, host } = setup();
  host.refs.add("p1");
  table.put("p1", stored("p1"));
  assert.equal(table.get("p1").state, "ready");
  assert.equal(host.storedBytes, 200_000, "a stored value counts toward the owner's garbage-collection budget");
  pending("t.0");
  assert.equal(table.isReady("t.0"), false);
  const calls = [];
  table.whenSettled("t.0", () => calls.push("a"));
  const stop = table.whenSettled("t.0", () => calls.push("b"));
  stop();
  table.resolve("t.0", { value: inline });
  assert.deepEqual(calls, ["a"], "a stopped watch is not called");
  assert.equal(table.isReady("t.0"), true);
  table.whenSettled("t.0", () => calls.push("c"));
  assert.deepEqual(calls, ["a", "c"], "settled already: called at once");
  assert.equal(table.whenSettled("unknown", () => {}), undefined, "not owned here");
});

test("an object dropped before its task answers is freed; the late answer's bytes are discarded", () => {
  const { table, pending, host } = setup();
  pending("t.0");
  host.refs.delete("t.0");
  table.dropped("t.0");
  assert.equal(table.has("t.0"), false);
  assert.deepEqual(host.freedIds, [["t.0", "t"]], "its lineage is told");
  table.resolve("t.0", { value: stored("t.0") });
  assert.deepEqual(host.discarded, ["t.0"]);
});

test("pins and escaped copies keep an object alive after its last handle goes", () => {
  const { table, pending, host } = setup();
  pending("t.0");
  table.resolve("t.0", { value: stored("t.0") });
  table.pin("t.0");
  host.refs.delete("t.0");
  table.dropped("t.0");
  assert.equal(table.get("t.0").state, "ready", "pinned by a pending task");
  table.unpin("t.0");
  assert.equal(table.has("t.0"), false, "the last pin went: freed");
  assert.deepEqual(host.discarded, ["t.0"], "its stored bytes go");
  pending("u.0");
  table.escaped("u.0");
  host.refs.delete("u.0");
  table.dropped("u.0");
  assert.equal(table.get("u.0").state, "pending", "a ref that left the process keeps it until the owner exits");
});

test("a lost copy: rebuilt from lineage when it can be, else lost with ObjectLostError; a put is never rebuilt", () => {
  const { table, pending, host } = setup();
  pending("t.0");
  table.resolve("t.0", { value: stored("t.0", "n1") });
  assert.equal(table.lost("t.0", "n2"), true, "a copy on another node than the lost one: read it again");
  assert.equal(table.get("t.0").state, "ready");
  assert.equal(table.lost("t.0", "n1"), true);
  assert.deepEqual(host.rebuilt, [["t", "n1"]]);
  assert.equal(table.get("t.0").state, "reconstructing");
  assert.equal(table.lost("t.0", "n1"), true, "being made again already");
  assert.equal(host.rebuilt.length, 1);
  table.resolve("t.0", { value: stored("t.0", "n3") });
  assert.deepEqual(states(table, "t.0"), ["(new)>pending", "pending>ready", "ready>reconstructing", "reconstructing>ready"]);

  const { table: t2, host: h2 } = setup({ rebuild: false });
  h2.refs.add("p1");
  t2.put("p1", stored("p1", "n1"));
  let woke;
  h2.refs.add("q.0");
  t2.pending("q.0", "q");
  t2.resolve("q.0", { value: stored("q.0", "n1") });
  assert.equal(t2.lost("p1", "n1"), false);
  const p = t2.get("p1");
  assert.equal(p.state, "lost");
  assert.equal(p.error.name, "ObjectLostError");
  assert.match(p.error.message, /made by put\(\).*cannot be rebuilt/);
  assert.equal(t2.lost("q.0", "n1"), false, "a task return whose task cannot run again is lost too");
  assert.match(t2.get("q.0").error.message, /no retries left \(maxRetries\)/);
  t2.whenSettled("q.0", () => { woke = true; });
  assert.equal(woke, true, "lost is settled: get() throws its error instead of waiting");
});

test("a task run again resets its returns: copies on other nodes are discarded, and the new answer settles them", () => {
  const { table, pending, host } = setup();
  pending("t.0"); pending("t.1");
  table.resolve("t.0", { value: stored("t.0", "n1") });
  table.resolve("t.1", { value: stored("t.1", "n2") });
  assert.equal(table.lost("t.0", "n1"), true);
  assert.deepEqual(host.discarded, ["t.1"], "the sibling's copy on a live node is dropped: the re-run writes it again");
  assert.equal(table.get("t.1").state, "reconstructing");
  assert.equal(table.isReady("t.1"), false);
  table.resolve("t.1", { value: inline });
  assert.equal(table.isReady("t.1"), true);
});

test("a freed return wanted again as a re-run's input is revived; an illegal move throws IllegalObjectTransitionError", () => {
  const { table, pending } = setup();
  table.revive("gone.0", "gone");
  assert.equal(table.get("gone.0").state, "reconstructing");
  pending("t.0");
  table.revive("t.0", "t");
  assert.equal(table.get("t.0").state, "pending", "a live object is not revived");
  table.resolve("t.0", { value: inline });
  assert.throws(() => table.resolve("t.0", { value: inline }), (e) => {
    assert.ok(e instanceof IllegalObjectTransitionError);
    assert.equal(e.objectId, "t.0");
    assert.equal(e.from, "ready");
    assert.equal(e.to, "ready");
    assert.match(e.message, /cannot go from ready to ready \(resolved\)/);
    return true;
  });
});

test("object events carry the size and the node of a stored copy, and the error's name", () => {
  const { table, pending, events } = setup();
  pending("t.0");
  table.resolve("t.0", { value: stored("t.0", "n7") });
  pending("u.0");
  table.resolve("u.0", { error: { name: "TaskError", message: "boom" } });
  const got = events.drain().map((e) => [e.kind, e.id, e.state, e.stimulus, e.size, e.node, e.errorType]);
  assert.deepEqual(got, [
    ["object", "t.0", "pending", "submitted", 0, undefined, undefined],
    ["object", "t.0", "ready", "resolved", 200_000, "n7", undefined],
    ["object", "u.0", "pending", "submitted", 0, undefined, undefined],
    ["object", "u.0", "failed", "resolved", 0, undefined, "TaskError"],
  ]);
});
