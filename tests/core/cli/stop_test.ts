import assert from "node:assert/strict";
import { canceledExitCode, stopRequests, watchLauncher } from "../../../core/cli/stop.ts";

Deno.test("stop requests: the first cancels, the same Ctrl-C delivered again is one request, a later one exits 130", () => {
  let now = 1_000;
  const printed: string[] = [];
  const exits: number[] = [];
  const stops = stopRequests({
    err: (text) => printed.push(text),
    exit: (code) => exits.push(code),
    now: () => now,
    coalesceMs: 500,
  });
  assert.equal(stops.signal.aborted, false);
  stops.request("Canceling");
  assert.equal(stops.signal.aborted, true);
  assert.deepEqual(printed, ["\nCanceling\n"]);
  // The terminal's SIGINT, then deno task's and the launcher's copies of it.
  now += 3;
  stops.request("Canceling");
  now += 200;
  stops.request("Canceling");
  assert.deepEqual(exits, []);
  assert.equal(printed.length, 1);
  now += 400; // a second press
  stops.request("Canceling");
  assert.deepEqual(exits, [130]);
  assert.equal(stops.cause(), "SIGINT");
});

Deno.test("stop requests: SIGTERM is remembered as the cause, and a second one exits 143 (128 + 15)", () => {
  let now = 1_000;
  const exits: number[] = [];
  const stops = stopRequests({ err: () => {}, exit: (code) => exits.push(code), now: () => now });
  assert.equal(stops.cause(), undefined);
  stops.request("Canceling", "SIGTERM");
  assert.equal(stops.cause(), "SIGTERM");
  now += 10_000;
  stops.request("Canceling", "SIGTERM");
  assert.deepEqual(exits, [143]);
  assert.equal(canceledExitCode("SIGTERM"), 143);
  assert.equal(canceledExitCode("SIGINT"), 130);
  assert.equal(canceledExitCode(undefined), 130);
});

Deno.test("watchLauncher: a parent pid that stops being the launcher's stops the command once, naming both pids", async () => {
  let parent = 4242;
  const told: string[] = [];
  const stop = watchLauncher({
    launcherPid: "4242",
    parentPid: () => parent,
    onGone: (message) => told.push(message),
    pollMs: 5,
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(told, []);
    parent = 1; // re-parented: the launcher was killed
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(told.length, 1);
    assert.match(told[0]!, /launcher \(launch\.ts, pid 4242\) has ended .*parent is now pid 1/);
  } finally {
    stop();
  }
});

Deno.test("watchLauncher: no launcher named, or a value that is no pid, watches nothing", async () => {
  for (const launcherPid of [undefined, "", "abc", "-1", "0", "12x", "99999999999"]) {
    let polled = 0;
    const stop = watchLauncher({
      launcherPid,
      parentPid: () => (polled++, 1),
      onGone: () => assert.fail(`stopped for ${launcherPid}`),
      pollMs: 1,
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    stop();
    assert.equal(polled, 0, String(launcherPid));
  }
});
