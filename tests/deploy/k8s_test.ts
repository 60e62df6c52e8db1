/**
 * Every manifest under deploy/k8s, validated offline against the Kubernetes
 * OpenAPI schemas (npm kubernetes-models, pinned), plus what the schemas
 * cannot see: the kustomization lists every file, references resolve, the
 * daemon stays single, commands exist in the CLI.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { usage } from "../../core/cli/mod.ts";
import { DEFAULT_CANCEL_GRACE_MS } from "../../core/executor.ts";
import { ConfigSchema } from "../../resources/config.ts";

const DIR = new URL("../../deploy/k8s/", import.meta.url);

interface Validatable {
  validate(): void;
}
type Model = new (data: never) => Validatable;
const MODELS: Record<string, Model> = {
  "v1/Namespace": Namespace as unknown as Model,
  "v1/ConfigMap": ConfigMap as unknown as Model,
  "v1/Secret": Secret as unknown as Model,
  "v1/Service": Service as unknown as Model,
  "apps/v1/Deployment": Deployment as unknown as Model,
  "batch/v1/Job": Job as unknown as Model,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler as unknown as Model,
};

// deno-lint-ignore no-explicit-any
type Manifest = Record<string, any>;

async function manifests(): Promise<{ file: string; doc: Manifest }[]> {
  const out: { file: string; doc: Manifest }[] = [];
  for await (const entry of Deno.readDir(DIR)) {
    if (!entry.name.endsWith(".yaml") || entry.name === "kustomization.yaml") continue;
    const text = await Deno.readTextFile(new URL(entry.name, DIR));
    for (const doc of parseAllDocuments(text)) {
      assert.equal(doc.errors.length, 0, `${entry.name}: ${doc.errors.join("; ")}`);
      const value = doc.toJS();
      if (value) out.push({ file: entry.name, doc: value });
    }
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/** The same check as the schema test, for a manifest given in the test (bad input). */
function validate(doc: Manifest): void {
  const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new model(doc as never).validate();
}

Deno.test("every manifest is valid against the Kubernetes OpenAPI schema", async () => {
  const all = await manifests();
  assert.ok(all.length >= 10);
  for (const { file, doc } of all) {
    assert.doesNotThrow(() => validate(doc), `${file}: ${doc.kind} ${doc.metadata?.name}`);
  }
});

Deno.test("the schema check rejects broken manifests (it can fail)", async () => {
  const all = await manifests();
  const worker = structuredClone(
    all.find((m) =>
      m.doc.metadata?.name === "platform-worker" &&
      m.doc.kind === "Deployment"
    )?.doc,
  );
  assert.ok(worker);
  const broken: [string, (d: Manifest) => void, RegExp][] = [
    ["replicas as text", (d) => (d.spec.replicas = "two"), /replicas must be integer/],
    ["no selector", (d) => delete d.spec.selector, /selector/],
    ["container without image name", (d) => delete d.spec.template.spec.containers[0].name, /name/],
    [
      "bad port",
      (d) => (d.spec.template.spec.containers[0].ports = [{ containerPort: "x" }]),
      /containerPort/,
    ],
  ];
  for (const [what, breakIt, message] of broken) {
    const copy = structuredClone(worker);
    breakIt(copy);
    assert.throws(() => validate(copy), message, what);
  }
  assert.throws(() => validate({ apiVersion: "v9", kind: "Nope" }), /no schema for v9 Nope/);
});

Deno.test("kustomization lists every manifest file, and only existing ones", async () => {
  const kustomization = parseAllDocuments(
    await Deno.readTextFile(new URL("kustomization.yaml", DIR)),
  )[0]?.toJS() as Manifest;
  const files = [...Deno.readDirSync(DIR)].map((e) => e.name)
    .filter((n) => n.endsWith(".yaml") && n !== "kustomization.yaml").sort();
  assert.deepEqual([...kustomization.resources].sort(), files);
});

Deno.test("workloads: single daemon, scalable workers, migrate job, config references resolve", async () => {
  const all = (await manifests()).map((m) => m.doc);
  const named = (kind: string, name: string): Manifest => {
    const found = all.find((d) => d.kind === kind && d.metadata?.name === name);
    assert.ok(found, `${kind} ${name} exists`);
    return found;
  };
  const config = named("ConfigMap", "platform-config");
  const secret = named("Secret", "platform-secrets");
  assert.ok(config && secret);
  // Every key is a known setting (a typo would be silently ignored by the app).
  const known = new Set([...Object.keys(ConfigSchema.shape), "UI_TOKEN"]);
  for (const key of [...Object.keys(config.data), ...Object.keys(secret.stringData)]) {
    assert.ok(known.has(key), `unknown setting ${key}`);
  }
  // And the ConfigMap's values parse (limits syntax, numbers).
  const parsed = ConfigSchema.safeParse({ ...config.data, ...secret.stringData });
  assert.ok(parsed.success, parsed.error?.message);

  const daemon = named("Deployment", "platform-daemon");
  assert.equal(daemon.spec.replicas, 1);
  assert.equal(daemon.spec.strategy.type, "Recreate");
  const hpa = named("HorizontalPodAutoscaler", "platform-worker");
  assert.equal(hpa.spec.scaleTargetRef.name, "platform-worker");
  assert.ok(named("Deployment", hpa.spec.scaleTargetRef.name));
  const job = named("Job", "platform-migrate");
  assert.deepEqual(job.spec.template.spec.containers[0].args, ["migrate"]);
  for (const name of ["postgres", "minio", "mongodb"]) {
    assert.equal(named("Service", name)?.spec.type, "ExternalName", name);
  }
  const commands = usage({
    name: "x",
    loadGraph: () => Promise.reject(),
    openRunStore: () => Promise.reject(),
    commands: { ui: { summary: "", run: () => Promise.resolve(0) } },
  });
  for (const d of all.filter((x) => x.kind === "Deployment" || x.kind === "Job")) {
    const spec = d.spec.template.spec;
    for (const c of spec.containers) {
      assert.match(
        commands,
        new RegExp(`\\n  ${c.args[0]} `),
        `${d.metadata.name}: command ${c.args[0]}`,
      );
      for (const from of c.envFrom ?? []) {
        const ref = from.configMapRef?.name ?? from.secretRef?.name;
        assert.ok(named(from.configMapRef ? "ConfigMap" : "Secret", ref), `${ref} exists`);
      }
    }
    assert.equal(spec.securityContext?.runAsNonRoot, true, `${d.metadata.name} runs as non-root`);
  }
  // The worker's shutdown fits in the pod's termination grace: --grace, the cancel grace of
  // steps slow to stop, and 10 s for the release (a SIGKILL before it fails the run).
  const worker = named("Deployment", "platform-worker").spec.template.spec;
  const args: string[] = worker.containers[0].args;
  const grace = Number(args[args.indexOf("--grace") + 1]);
  assert.ok(
    grace + DEFAULT_CANCEL_GRACE_MS + 10_000 <= worker.terminationGracePeriodSeconds * 1000,
    `--grace ${grace} + ${DEFAULT_CANCEL_GRACE_MS} + 10000 ms within ` +
      `${worker.terminationGracePeriodSeconds} s`,
  );
  // Worker and daemon serve their health endpoint where the kubelet probes it.
  for (const name of ["platform-worker", "platform-daemon"]) {
    const [c] = named("Deployment", name).spec.template.spec.containers;
    const env = new Map<string, string>(
      (c.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    const parsedEnv = ConfigSchema.safeParse(Object.fromEntries(env));
    assert.ok(parsedEnv.success, `${name}: ${parsedEnv.error?.message}`);
    assert.equal(env.get("HEALTH_HOST"), "0.0.0.0", `${name}: a kubelet probes the pod's IP`);
    const port = c.ports.find((p: { name: string }) => p.name === "health");
    assert.equal(String(port?.containerPort), env.get("HEALTH_PORT"), name);
    assert.deepEqual(c.livenessProbe.httpGet, { path: "/livez", port: "health" }, name);
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "health" }, name);
  }
  const ui = named("Service", "platform-ui");
  assert.ok(
    named("Deployment", "platform-ui").spec.template.metadata.labels["app.kubernetes.io/name"] ===
      ui.spec.selector["app.kubernetes.io/name"],
  );
});
