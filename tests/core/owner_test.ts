import assert from "node:assert/strict";
import { type HostView, isGoneHere, processOwner, UNKNOWN_HOST } from "../../core/owner.ts";

Deno.test("processOwner is this process, one instance id for its whole life", () => {
  const me = processOwner();
  assert.equal(me.pid, Deno.pid);
  assert.equal(me.host, Deno.hostname());
  assert.match(me.instanceId, /^[0-9a-f-]{36}$/);
  assert.equal(processOwner(), me);
});

Deno.test("isGoneHere tells an owner certainly gone from this host, and nothing else", async (t) => {
  const self = { instanceId: "now", host: "h1", pid: 100 };
  const view = (exists: boolean | undefined): HostView => ({ self, pidExists: () => exists });
  const cases: [
    string,
    { instanceId: string; host: string; pid: number },
    boolean | undefined,
    boolean,
  ][] = [
    ["this very process", self, false, false],
    ["another host", { instanceId: "x", host: "h2", pid: 7 }, false, false],
    ["this host, pid gone", { instanceId: "x", host: "h1", pid: 7 }, false, true],
    ["this host, pid alive", { instanceId: "x", host: "h1", pid: 7 }, true, false],
    ["this host, cannot tell", { instanceId: "x", host: "h1", pid: 7 }, undefined, false],
    [
      "this host, this pid under an older instance (restarted container)",
      { instanceId: "old", host: "h1", pid: 100 },
      true,
      true,
    ],
    [
      "hosts that cannot read their names",
      { instanceId: "x", host: UNKNOWN_HOST, pid: 7 },
      false,
      false,
    ],
  ];
  for (const [name, owner, exists, gone] of cases) {
    await t.step(name, () => {
      const v = view(exists);
      const unknownSelf = owner.host === UNKNOWN_HOST
        ? { ...v, self: { ...self, host: UNKNOWN_HOST } }
        : v;
      assert.equal(isGoneHere(owner, unknownSelf), gone);
    });
  }
});

Deno.test("isGoneHere reads /proc on this machine: a finished child is gone, this process is not", async () => {
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", "0"] }).spawn();
  await child.status;
  const self = processOwner();
  assert.equal(isGoneHere({ instanceId: "child", host: self.host, pid: child.pid }), true);
  assert.equal(isGoneHere({ instanceId: "other", host: self.host, pid: 1 }), false, "pid 1 exists");
});
