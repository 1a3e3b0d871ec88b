// The head's watch of a driver without sockets or timers: head/driver-watch.ts on a fake clock the
// test moves, a timer whose ticks the test fires, and connections whose outcomes and ping answers
// the test plays, against the compiled module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DriverWatch, DRIVER_WATCH_TRANSITIONS, DRIVER_WATCH_STORY_LENGTH, IllegalDriverWatchTransitionError } from "../dist/head/driver-watch.js";
import { ConnectionClosedError } from "../dist/src/errors.js";

const TIMEOUT = 4000;
const JOB = { jobId: "job1", driverAddress: "127.0.0.1:7000" };

/** A connection whose pings wait for the test's answer. */
function fakeConnection() {
  const closeHandlers = [];
  const conn = {
    closed: false,
    pings: [],
    request(msg) {
      assert.equal(msg.t, "ping");
      if (conn.closed) return Promise.reject(new ConnectionClosedError());
      return new Promise((resolve, reject) => conn.pings.push({ resolve, reject }));
    },
    once(event, f) { assert.equal(event, "close"); closeHandlers.push(f); return conn; },
    close() {
      if (conn.closed) return;
      conn.closed = true;
      for (const p of conn.pings.splice(0)) p.reject(new ConnectionClosedError());
      for (const f of closeHandlers.splice(0)) f();
    },
    /** Answer the waiting pings as the driver of `jobId`. */
    answer(jobId = JOB.jobId) { for (const p of conn.pings.splice(0)) p.resolve({ jobId }); },
  };
  return conn;
}

function setup() {
  const clock = { t: 1_000_000 };
  const connects = [];
  const verdicts = [];
  let tick;
  let cancelled = 0;
  const deps = {
    now: () => clock.t,
    every(ms, f) { assert.equal(ms, TIMEOUT / 4); tick = f; return () => { cancelled++; }; },
    connect(address, token) {
      assert.equal(address, JOB.driverAddress);
      assert.equal(token, "tok");
      return new Promise((resolve, reject) => connects.push({ resolve, reject }));
    },
    timeoutMs: TIMEOUT,
  };
  const watch = new DriverWatch(JOB, "tok", (why) => verdicts.push(why), deps);
  /** The one connect waiting for its outcome. */
  const pendingConnect = () => { assert.equal(connects.length, 1, "one connect in progress"); return connects.shift(); };
  /** Let the connect in progress succeed, with a fresh fake connection. */
  const connected = async () => { const c = fakeConnection(); pendingConnect().resolve(c); await settle(); return c; };
  const refused = async () => { pendingConnect().reject(Object.assign(new Error("refused"), { code: "ECONNREFUSED" })); await settle(); };
  const failed = async () => { pendingConnect().reject(Object.assign(new Error("unreachable"), { code: "EHOSTUNREACH" })); await settle(); };
  return { watch, clock, connects, verdicts, tick: () => tick(), cancelled: () => cancelled, connected, refused, failed, pendingConnect };
}
const settle = () => new Promise((r) => setImmediate(r));
const moves = (w) => w.story.map((e) => `${e.from ?? "new"}>${e.to}:${e.stimulus}`);

test("a driver that keeps answering is watched across reconnects and never declared gone", async () => {
  const h = setup();
  assert.equal(h.watch.state, "connecting");
  let conn = await h.connected();
  assert.equal(h.watch.state, "connected");
  assert.equal(conn.pings.length, 1, "pinged as soon as connected");
  for (let i = 0; i < 10; i++) {
    h.clock.t += TIMEOUT / 2;
    conn.answer();
    await settle();
    h.tick();
  }
  // The connection closes (the driver is fine): a new one is made at once, and pings go on it.
  conn.close();
  assert.equal(h.watch.state, "connecting");
  conn = await h.connected();
  conn.answer();
  await settle();
  h.clock.t += TIMEOUT;
  h.tick();
  assert.deepEqual(h.verdicts, []);
  assert.equal(h.watch.state, "connected");
  assert.deepEqual(moves(h.watch), ["new>connecting:watch", "connecting>connected:connected", "connected>connecting:closed", "connecting>connected:connected"]);
});

test("a driver that misses pings is declared gone once, after the timeout and not before", async () => {
  const h = setup();
  const conn = await h.connected();
  conn.answer();
  await settle();
  const answeredAt = h.clock.t;
  for (let i = 0; i < 4; i++) { h.clock.t += TIMEOUT / 4; h.tick(); }   // pings go unanswered
  assert.deepEqual(h.verdicts, [], "not before the timeout");
  assert.equal(h.watch.state, "connected");
  h.clock.t += TIMEOUT / 4;
  h.tick();
  assert.equal(h.clock.t - answeredAt, TIMEOUT + TIMEOUT / 4);
  assert.equal(h.verdicts.length, 1);
  assert.match(h.verdicts[0], /answered nothing for 4 s \(HELIOS_DRIVER_TIMEOUT_MS\)/);
  assert.equal(h.watch.state, "gone");
  assert.ok(conn.closed, "its connection is closed");
  assert.equal(h.cancelled(), 1, "its timer is cleared");
  // Late answers, further ticks and a stop change nothing: one verdict.
  conn.answer();
  h.clock.t += TIMEOUT;
  h.tick();
  h.watch.stop();
  await settle();
  assert.equal(h.verdicts.length, 1);
  assert.equal(h.watch.state, "gone");
  assert.deepEqual(moves(h.watch).slice(-1), ["connected>gone:timed-out"]);
});

test("an answer in time keeps it: the timeout counts from the last answer", async () => {
  const h = setup();
  const conn = await h.connected();
  h.clock.t += TIMEOUT;   // exactly the timeout: not past it
  h.tick();
  assert.deepEqual(h.verdicts, []);
  conn.answer();   // both pings answered now
  await settle();
  h.clock.t += TIMEOUT;
  h.tick();
  assert.deepEqual(h.verdicts, [], "it answered again in time");
  h.clock.t += 1;
  h.tick();
  assert.equal(h.verdicts.length, 1, "past the timeout since its last answer");
});

test("a refused connection means its process exited", async () => {
  const h = setup();
  await h.refused();
  assert.deepEqual(h.verdicts, ["its process exited"]);
  assert.equal(h.watch.state, "gone");
  h.tick();
  assert.equal(h.connects.length, 0, "no further connection");
});

test("a failed connection is tried again on the next tick; a reconnect that is refused ends it", async () => {
  const h = setup();
  await h.failed();
  assert.equal(h.watch.state, "unreachable");
  h.tick();
  assert.equal(h.watch.state, "connecting");
  const conn = await h.connected();
  conn.close();
  await h.refused();
  assert.deepEqual(h.verdicts, ["its process exited"]);
  assert.deepEqual(moves(h.watch), ["new>connecting:watch", "connecting>unreachable:connect-failed", "unreachable>connecting:retry",
    "connecting>connected:connected", "connected>connecting:closed", "connecting>gone:refused"]);
});

test("another process answering at its address is not it", async () => {
  const h = setup();
  const conn = await h.connected();
  conn.answer("another-job");
  await settle();
  assert.deepEqual(h.verdicts, [`another process listens at its address ${JOB.driverAddress}`]);
  // A ping that fails otherwise than by a closed connection says the same.
  const h2 = setup();
  const c2 = await h2.connected();
  c2.pings.shift().reject(new Error("unknown request ping"));
  await settle();
  assert.equal(h2.verdicts.length, 1);
  assert.equal(h2.watch.state, "gone");
});

test("stop() ends the watch without a verdict, and a connection made afterwards is closed", async () => {
  const h = setup();
  h.watch.stop();
  assert.equal(h.watch.state, "stopped");
  const late = fakeConnection();
  h.pendingConnect().resolve(late);
  await settle();
  assert.ok(late.closed);
  assert.deepEqual(h.verdicts, []);
  assert.equal(h.cancelled(), 1);
});

test("every move of the table is reachable", async () => {
  const all = Object.entries(DRIVER_WATCH_TRANSITIONS).flatMap(([from, tos]) =>
    Object.entries(tos).flatMap(([to, stimuli]) => stimuli.map((s) => `${from}>${to}:${s}`)));
  const seen = new Set();
  const scenario = async (play) => { const h = setup(); await play(h); for (const m of moves(h.watch)) seen.add(m); };
  const expire = (h) => { h.clock.t += TIMEOUT + 1; h.tick(); };
  const notIt = async (conn) => { conn.answer("another-job"); await settle(); };
  // connecting ─▶ …
  await scenario(async (h) => { const c = await h.connected(); c.close(); await h.refused(); });
  await scenario(async (h) => { await h.failed(); });
  await scenario(async (h) => { expire(h); });
  await scenario(async (h) => { const c = await h.connected(); c.close(); await h.connected(); c.answer(); });
  await scenario(async (h) => { h.watch.stop(); });
  // An answer from another process that arrives after its connection closed, while the next is made.
  await scenario(async (h) => {
    const c = await h.connected();
    const ping = c.pings.shift();   // already answered on the wire
    c.close();
    ping.resolve({ jobId: "another-job" });
    await settle();
  });
  // connected ─▶ …
  await scenario(async (h) => { const c = await h.connected(); await notIt(c); });
  await scenario(async (h) => { await h.connected(); expire(h); });
  await scenario(async (h) => { await h.connected(); h.watch.stop(); });
  // unreachable ─▶ …
  await scenario(async (h) => { await h.failed(); h.tick(); });
  await scenario(async (h) => { await h.failed(); expire(h); });
  await scenario(async (h) => { await h.failed(); h.watch.stop(); });
  await scenario(async (h) => {
    const c = await h.connected();
    const ping = c.pings.shift();
    c.close();           // the ping's answer is already on its way…
    await h.failed();    // …and the reconnect fails
    ping.resolve({ jobId: "another-job" });
    await settle();
  });
  const missing = all.filter((t) => !seen.has(t));
  assert.deepEqual(missing, [], "every (from, to, stimulus) of the table was reached");
  for (const t of seen) if (!t.startsWith("new>")) assert.ok(all.includes(t), `${t} is in the table`);
});

test("a move not in the table throws IllegalDriverWatchTransitionError with the watch's story", async () => {
  const h = setup();
  await h.connected();
  assert.throws(() => h.watch.move("unreachable", "connect-failed"), (e) => {
    assert.ok(e instanceof IllegalDriverWatchTransitionError);
    assert.equal(e.name, "IllegalDriverWatchTransitionError");
    assert.equal(e.jobId, JOB.jobId);
    assert.equal(e.from, "connected");
    assert.equal(e.to, "unreachable");
    assert.match(e.message, /connected to unreachable on connect-failed[^]*head\/driver-watch\.ts[^]*\(new\) → connecting \(watch\)\n[^]*connecting → connected \(connected\)/);
    return true;
  });
  assert.throws(() => h.watch.move("gone", "refused"), IllegalDriverWatchTransitionError, "refused is a verdict of a connect only");
  assert.equal(h.watch.state, "connected");
  h.watch.stop();
  for (const to of ["connecting", "connected", "unreachable", "gone", "stopped"]) {
    assert.throws(() => h.watch.move(to, "stopped"), IllegalDriverWatchTransitionError, "stopped is final");
  }
  assert.ok(h.watch.story.length <= DRIVER_WATCH_STORY_LENGTH);
});
