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

Deno.test("isGoneHere without /proc (the least-privilege tasks) asks `kill -0` when it may run kill, else cannot tell", async () => {
  const dead = new Deno.Command(Deno.execPath(), { args: ["eval", "0"] }).spawn();
  await dead.status;
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/probe.ts`;
    const owner = new URL("../../core/owner.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { isGoneHere, processOwner } from ${JSON.stringify(owner)};
const self = processOwner();
console.log(JSON.stringify([
  isGoneHere({ instanceId: "dead", host: self.host, pid: ${dead.pid} }),
  isGoneHere({ instanceId: "alive", host: self.host, pid: ${Deno.pid} }),
]));`,
    );
    const root = new URL("../..", import.meta.url).pathname;
    // As under launch.ts: reads outside the grants (so /proc too) read as missing.
    const answer = async (extra: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--ignore-read",
          `--allow-read=${root},${dir}`,
          "--allow-sys=hostname",
          ...extra,
          script,
        ],
        stderr: "inherit",
      }).output();
      assert.ok(out.success);
      return JSON.parse(new TextDecoder().decode(out.stdout));
    };
    assert.deepEqual(await answer(["--allow-run=kill"]), [true, false], "kill -0 tells");
    assert.deepEqual(await answer([]), [false, false], "nothing tells: only the lease will");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
