// The caller side of actor calls without processes or sockets: src/core/actor-caller.ts on a fake
// core worker whose head answers from a world the test sets (the actor ALIVE, RESTARTING or DEAD,
// and where), and whose connections record the pushes and are closed by the test, against the
// compiled module. The connection lifecycle is src/core/actor-connection.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ActorCaller } from "../dist/src/core/actor-caller.js";
import { ACTOR_CONNECTION_TRANSITIONS, ACTOR_CONNECTION_STORY_LENGTH, IllegalActorConnectionTransitionError, moveConnection, newCallerState }
  from "../dist/src/core/actor-connection.js";
import { ConnectionClosedError, PendingCallsLimitExceededError } from "../dist/src/errors.js";

const ID = "actor1";

/** A wire connection as the caller uses it: pushes are recorded; close() fails what waits, then tells the listeners. */
function fakeConnection(address, options = {}) {
  const closeHandlers = [];
  const conn = {
    address,
    closed: false,
    state: {},
    pushes: [],
    call(msg, answer) {
      assert.equal(msg.t, "push");
      if (conn.closed) return answer(new ConnectionClosedError());
      conn.pushes.push({ name: msg.task.name, seq: msg.task.actor.seq, callerId: msg.task.actor.callerId, answer, answered: false });
      if (options.closeOnPush) conn.close();   // its worker dies at once
    },
    once(event, f) {
      assert.equal(event, "close");
      closeHandlers.push(f);
      if (options.closeWhenWatched) queueMicrotask(() => conn.close());   // closes before the caller uses it
      return conn;
    },
    close() {
      if (conn.closed) return;
      conn.closed = true;
      for (const p of conn.pushes) if (!p.answered) { p.answered = true; p.answer(new ConnectionClosedError()); }
      for (const f of closeHandlers.splice(0)) f();
    },
    /** Answer every push not answered yet with its name as the value. */
    replyAll() { for (const p of conn.pushes) if (!p.answered) { p.answered = true; p.answer(undefined, { value: p.name }); } },
  };
  return conn;
}

function setup() {
  const world = { state: "ALIVE", address: "w1", nodeId: "n1", death: undefined, waiters: [], failNext: {}, connOptions: [] };
  const info = (actorId) => ({ actorId, className: "Counter", state: world.state, address: world.address, nodeId: world.nodeId, death: world.death });
  const host = {
    config: { workerId: "caller-1" },
    tracked: 0,
    track(d) { host.tracked += d; },
    onNodeDeath(f) { host.nodeDied = f; },
    head: {
      calls: [],
      call(method, args) {
        assert.ok(method === "waitActor" || method === "waitActorSettled", method);
        host.head.calls.push(method);
        const failure = world.failNext[method];
        if (failure) { delete world.failNext[method]; return Promise.reject(failure); }
        // Both wait while the actor is placed or restarts.
        if (world.state === "ALIVE" || world.state === "DEAD") return Promise.resolve(info(args.actorId));
        return new Promise((resolve) => world.waiters.push(() => resolve(info(args.actorId))));
      },
    },
    conns: [],
    connection(address) {
      const c = fakeConnection(address, world.connOptions.shift());
      host.conns.push(c);
      return Promise.resolve(c);
    },
  };
  const caller = new ActorCaller(host);
  const results = [];
  const call = (name, maxTaskRetries = 0) => {
    const spec = { taskId: name, name, jobId: "j", fnId: "", args: [], numReturns: 1, owner: "me", actor: { actorId: ID, method: name, callerId: "", seq: 0 } };
    caller.call(ID, async () => spec, (r) => results.push({ name, value: r.value, error: r.error }), maxTaskRetries);
  };
  /** The actor is now `state` (at `address`): the head's waiting answers go out. */
  const become = (state, address, death) => {
    Object.assign(world, { state, death });
    if (address) world.address = address;
    for (const w of world.waiters.splice(0)) w();
  };
  const s = () => caller.inspect(ID);
  return { caller, host, world, results, call, become, s, conn: (i) => host.conns[i] };
}
const settle = () => new Promise((r) => setImmediate(r));
const moves = (s) => s.story.map((e) => `${e.from ?? "new"}>${e.to}:${e.stimulus}`);
const names = (conn) => conn.pushes.map((p) => p.name);

test("calls go out in order on one connection, many in flight, and settle in any order", async () => {
  const h = setup();
  for (const n of ["a", "b", "c"]) h.call(n);
  assert.equal(h.s().state, "unconnected", "nothing is made before the chain runs");
  await settle();
  assert.equal(h.s().state, "open");
  assert.equal(h.host.conns.length, 1);
  assert.deepEqual(names(h.conn(0)), ["a", "b", "c"]);
  assert.deepEqual(h.conn(0).pushes.map((p) => p.seq), [0, 1, 2]);
  assert.ok(h.conn(0).pushes.every((p) => p.callerId === "caller-1"));
  assert.equal(h.host.tracked, 3);
  h.conn(0).pushes[2].answered = true;
  h.conn(0).pushes[2].answer(undefined, { value: "c" });
  h.conn(0).replyAll();
  assert.deepEqual(h.results.map((r) => r.value), ["c", "a", "b"]);
  assert.equal(h.host.tracked, 0);
  assert.equal(h.s().pending, 0);
  assert.deepEqual(moves(h.s()), ["unconnected>connecting:connect", "connecting>open:connected"]);
});

test("maxPendingCalls refuses a call while that many are unanswered, and admits again after a reply", async () => {
  const h = setup();
  h.caller.admit(ID, "Counter", 2);
  h.call("a");
  h.caller.admit(ID, "Counter", 2);
  h.call("b");
  assert.throws(() => h.caller.admit(ID, "Counter", 2), PendingCallsLimitExceededError);
  h.caller.admit(ID, "Counter", -1);
  h.caller.admit(ID, "Counter", undefined);
  await settle();
  assert.throws(() => h.caller.admit(ID, "Counter", 2), PendingCallsLimitExceededError, "sent is not answered");
  h.conn(0).replyAll();
  h.caller.admit(ID, "Counter", 2);
});

test("calls lost with a connection are replayed in order after a restart, and a call made meanwhile waits behind them", async () => {
  const h = setup();
  for (const n of ["a", "b", "c"]) h.call(n, 1);
  await settle();
  h.become("RESTARTING");
  h.conn(0).close();
  assert.equal(h.s().state, "replaying");
  assert.deepEqual(h.s().lostCalls.map((c) => c.spec.name), ["a", "b", "c"]);
  assert.equal(h.host.tracked, 0);
  h.call("d", 1);
  await settle();
  assert.equal(h.host.conns.length, 1, "nothing is sent while the head says it restarts");
  assert.deepEqual(h.results, []);
  h.become("ALIVE", "w2");
  await settle();
  assert.equal(h.host.conns.length, 2);
  assert.equal(h.conn(1).address, "w2");
  assert.deepEqual(names(h.conn(1)), ["a", "b", "c", "d"], "the replayed calls first, in their order, then the one made during the replay");
  assert.deepEqual(h.conn(1).pushes.map((p) => p.seq), [3, 4, 5, 6]);
  assert.deepEqual(h.s().lostCalls, []);
  assert.equal(h.s().replay, undefined);
  h.conn(1).replyAll();
  assert.deepEqual(h.results.map((r) => r.value), ["a", "b", "c", "d"]);
  assert.ok(h.results.every((r) => !r.error));
  assert.equal(h.host.tracked, 0);
  assert.deepEqual(moves(h.s()), ["unconnected>connecting:connect", "connecting>open:connected", "open>replaying:lost",
    "replaying>replaying:connect", "replaying>replaying:connected", "replaying>open:replayed"]);
});

test("a lost call is failed once its retries are spent, with ActorUnavailableError", async () => {
  const h = setup();
  h.call("a", 1);
  h.call("b", 1);
  await settle();
  h.conn(0).close();   // lost once: replayed (attempt 2)
  await settle();
  assert.deepEqual(names(h.conn(1)), ["a", "b"]);
  assert.deepEqual(h.results, [], "replayed, not failed");
  h.call("c", 1);
  await settle();
  assert.deepEqual(names(h.conn(1)), ["a", "b", "c"]);
  h.conn(1).close();   // lost again: a and b are spent, c has a replay left
  await settle();
  assert.deepEqual(h.results.map((r) => [r.name, r.error?.name]), [["a", "ActorUnavailableError"], ["b", "ActorUnavailableError"]]);
  assert.match(h.results[0].error.message, /restarted while a, b, c was in flight/);
  assert.deepEqual(names(h.conn(2)), ["c"]);
  h.conn(2).replyAll();
  assert.deepEqual(h.results.map((r) => r.name), ["a", "b", "c"], "each settled once");
  assert.equal(h.host.tracked, 0);
});

test("with no retries, lost calls fail and the next call connects anew", async () => {
  const h = setup();
  h.call("a");
  await settle();
  h.host.nodeDied("n1");   // its node died: the connection is closed
  await settle();
  assert.equal(h.results[0].error.name, "ActorUnavailableError");
  assert.equal(h.s().state, "unconnected", "the replay made no connection");
  h.call("b");
  await settle();
  assert.equal(h.s().state, "open");
  assert.deepEqual(names(h.conn(1)), ["b"]);
});

test("an actor that died fails its lost calls, then every call, with ActorDiedError", async () => {
  const h = setup();
  h.call("a", -1);
  await settle();
  h.become("DEAD", undefined, { name: "WorkerCrashedError", message: "its worker was killed" });
  h.conn(0).close();
  await settle();
  assert.equal(h.results[0].error.name, "ActorDiedError");
  assert.match(h.results[0].error.message, /died while a was in flight: its worker was killed/);
  h.call("b");
  h.call("c");
  await settle();
  assert.equal(h.s().state, "dead");
  assert.deepEqual(h.results.slice(1).map((r) => [r.name, r.error.name]), [["b", "ActorDiedError"], ["c", "ActorDiedError"]]);
  assert.match(h.results[1].error.message, /is dead: its worker was killed/);
  const asked = h.host.head.calls.length;
  h.call("d");
  await settle();
  assert.equal(h.host.head.calls.length, asked, "dead is final: the head is not asked again");
  assert.equal(h.results[3].error.name, "ActorDiedError");
});

test("a failed attempt to connect fails the calls that waited for it, and the next call tries again", async () => {
  const h = setup();
  h.caller.created(ID, Promise.reject(new Error("the head refused the creation")));
  h.call("a");
  await settle();
  assert.equal(h.s().state, "unconnected");
  assert.match(h.results[0].error.message, /refused the creation/);
  h.caller.created(ID, Promise.resolve(undefined));
  h.call("b");
  await settle();
  assert.equal(h.s().state, "open");
  assert.deepEqual(names(h.conn(0)), ["b"]);
});

test("every move of the table is reachable", async () => {
  const all = Object.entries(ACTOR_CONNECTION_TRANSITIONS).flatMap(([from, tos]) =>
    Object.entries(tos).flatMap(([to, stimuli]) => stimuli.map((st) => `${from}>${to}:${st}`)));
  const seen = new Set();
  const scenario = async (play) => { const h = setup(); await play(h); await settle(); for (const m of moves(h.s())) seen.add(m); };
  // connect, connected, lost, replaying's connect and connected, replayed to open.
  await scenario(async (h) => { h.call("a", 1); await settle(); h.conn(0).close(); });
  // closed: nothing in flight.
  await scenario(async (h) => { h.call("a"); await settle(); h.conn(0).replyAll(); h.conn(0).close(); });
  // connect-failed.
  await scenario(async (h) => { h.world.failNext.waitActor = new Error("head unavailable"); h.call("a"); });
  // connecting ─actor-died─▶ dead.
  await scenario(async (h) => { h.become("DEAD"); h.call("a"); });
  // replayed to unconnected: retries spent.
  await scenario(async (h) => { h.call("a"); await settle(); h.conn(0).close(); });
  // replaying: a connection that fails (connect-failed), then the next lost call is replayed.
  await scenario(async (h) => {
    h.call("a", 1); h.call("b", 1); await settle();
    h.world.failNext.waitActor = new Error("head unavailable");
    h.conn(0).close();
    await settle();
    assert.deepEqual(h.results.map((r) => r.name), ["a"]);
    assert.deepEqual(names(h.conn(1)), ["b"]);
  });
  // replaying: its new connection closes before anything is sent on it (closed), so it is made again.
  await scenario(async (h) => {
    h.call("a", 1); await settle();
    h.world.connOptions.push({ closeWhenWatched: true });
    h.conn(0).close();
    await settle();
    assert.deepEqual(names(h.conn(1)), []);
    assert.deepEqual(names(h.conn(2)), ["a"]);
  });
  // replaying: the replayed call is lost again (lost), and replayed once more.
  await scenario(async (h) => {
    h.call("a", 2); h.call("b", 2); await settle();
    h.world.connOptions.push({ closeOnPush: true });
    h.conn(0).close();
    await settle();
    assert.deepEqual(names(h.conn(1)), ["a"]);
    assert.deepEqual(names(h.conn(2)), ["a", "b"], "put back in front, in order");
  });
  // replaying ─actor-died─▶ dead: it restarted, then died before the replay reached it.
  await scenario(async (h) => {
    h.call("a", 1); await settle();
    h.conn(0).close();   // the verdict (waitActorSettled) is asked at once: restarted
    h.become("DEAD");    // the replay's waitActor, in a later microtask, finds it dead
    await settle();
    assert.equal(h.results[0].error.name, "ActorDiedError");
  });
  const missing = all.filter((t) => !seen.has(t));
  assert.deepEqual(missing, [], "every (from, to, stimulus) of the table was reached");
  for (const t of seen) assert.ok(all.includes(t), `${t} is in the table`);
});

test("a move not in the table throws IllegalActorConnectionTransitionError with the connection's story", () => {
  const s = newCallerState(ID);
  moveConnection(s, "connecting", "connect");
  assert.throws(() => moveConnection(s, "replaying", "lost"), (e) => {
    assert.ok(e instanceof IllegalActorConnectionTransitionError);
    assert.equal(e.name, "IllegalActorConnectionTransitionError");
    assert.equal(e.actorId, ID);
    assert.equal(e.from, "connecting");
    assert.equal(e.to, "replaying");
    assert.match(e.message, /connecting to replaying on lost[^]*src\/core\/actor-connection\.ts[^]*unconnected → connecting \(connect\)/);
    return true;
  });
  assert.equal(s.state, "connecting", "nothing changed");
  moveConnection(s, "dead", "actor-died");
  for (const to of ["unconnected", "connecting", "open", "replaying", "dead"]) {
    assert.throws(() => moveConnection(s, to, "connect"), IllegalActorConnectionTransitionError, "dead is final");
  }
  const long = newCallerState(ID);
  for (let i = 0; i < 10; i++) { moveConnection(long, "connecting", "connect"); moveConnection(long, "unconnected", "connect-failed"); }
  assert.equal(long.story.length, ACTOR_CONNECTION_STORY_LENGTH);
});
