/**
 * Secret env vars (`DBT_ENV_SECRET_...`) as dbt treats them: read in
 * profiles.yml (a password), refused in a model, macro or property file,
 * where their value would be written into compiled SQL, target/ and
 * manifest.json (dbt's SecretEnvVarLocationError). Before, a model's
 * `env_var('DBT_ENV_SECRET_TOKEN')` compiled with the secret in it.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { writeProject } from "./_fixture.ts";

const env = (name: string) =>
  name === "WAREHOUSE_URL"
    ? "pglite:memory:"
    : name === "DBT_ENV_SECRET_TOKEN"
    ? "s3cr3t-value"
    : undefined;

Deno.test("dbt: env_var('DBT_ENV_SECRET_...') in a model is refused naming the file, its value never written", async () => {
  await using project = await writeProject({
    "models/leaky.sql": "select '{{ env_var('DBT_ENV_SECRET_TOKEN') }}' as token",
    "models/fine.sql": "select '{{ env_var('PLAIN_NAME', 'x') }}' as v",
  });
  const out: string[] = [];
  const code = await runDbtCli(
    ["compile", "--project-dir", project.dir],
    { out: (l) => out.push(l), err: (l) => out.push(l) },
    { env },
  );
  const text = out.join("\n");
  assert.notEqual(code, 0, text);
  assert.match(text, /models\/leaky\.sql/);
  assert.match(text, /DBT_ENV_SECRET_TOKEN.*allowed only in profiles\.yml or packages\.yml/);
  assert.doesNotMatch(text, /s3cr3t-value/);
  for await (const file of walk(project.dir)) {
    assert.doesNotMatch(await Deno.readTextFile(file), /s3cr3t-value/, file);
  }
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}
