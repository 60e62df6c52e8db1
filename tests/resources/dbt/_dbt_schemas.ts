/**
 * dbt's published artifact JSON schemas (tests/fixtures/dbt/schemas, copied whole from dbt-core,
 * see the README there), compiled once per test process with ajv and checked with readable errors.
 *
 * All four schemas declare `"$schema": "https://json-schema.org/draft/2020-12/schema"`, so they
 * are compiled with ajv's draft 2020-12 class (`ajv/dist/2020`), which understands `prefixItems`
 * (run-results v6 `batch_results`) and the 2020-12 meta-schema. Strict mode stays ON: the four
 * files compile under `strict: true` without a single warning; the only thing they need is the
 * `uuid` format (manifest `metadata.user_id`), which ajv does not ship without ajv-formats, so it
 * is registered here rather than turning format checking off.
 */

import assert from "node:assert/strict";
import Ajv2020 from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv";

const SCHEMAS = new URL("../../fixtures/dbt/schemas/", import.meta.url).pathname;

/** The artifacts this runner writes, by the schema file they are checked against. */
export const ARTIFACT_SCHEMAS = {
  manifest: "manifest_v12.json",
  run_results: "run_results_v6.json",
  catalog: "catalog_v1.json",
  sources: "sources_v3.json",
} as const;

/** One of the artifacts in {@link ARTIFACT_SCHEMAS}. */
export type ArtifactKind = keyof typeof ARTIFACT_SCHEMAS;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const compiled = new Map<ArtifactKind, Promise<ValidateFunction>>();

/** The compiled validator of one artifact's schema (the manifest's takes seconds: compiled once). */
export function artifactValidator(kind: ArtifactKind): Promise<ValidateFunction> {
  let found = compiled.get(kind);
  if (!found) {
    found = (async () => {
      const ajv = new Ajv2020.default({ strict: true, allErrors: true });
      ajv.addFormat("uuid", UUID);
      const text = await Deno.readTextFile(`${SCHEMAS}${ARTIFACT_SCHEMAS[kind]}`);
      return ajv.compile(JSON.parse(text));
    })();
    compiled.set(kind, found);
  }
  return found;
}

/**
 * ajv's errors as lines a person can act on: the JSON path of the offending value, what is wrong
 * and the offending key or allowed values. `anyOf` branches of the manifest's node union are
 * noisy (every node kind reports its own mismatch), so the list is capped.
 */
export function describeErrors(errors: ErrorObject[] | null | undefined, limit = 25): string {
  if (!errors?.length) return "(no errors)";
  const lines = errors.slice(0, limit).map((e) => {
    const where = e.instancePath === "" ? "(top level)" : e.instancePath;
    const params = e.params as Record<string, unknown>;
    const detail = params.additionalProperty !== undefined
      ? ` '${params.additionalProperty}'`
      : params.missingProperty !== undefined
      ? ` '${params.missingProperty}'`
      : params.allowedValues !== undefined
      ? ` ${JSON.stringify(params.allowedValues)}`
      : params.allowedValue !== undefined
      ? ` ${JSON.stringify(params.allowedValue)}`
      : "";
    return `  ${where}: ${e.message}${detail}  [${e.schemaPath}]`;
  });
  if (errors.length > limit) lines.push(`  ... and ${errors.length - limit} more`);
  return lines.join("\n");
}

/** The errors of `value` against `kind`'s schema, or null when it is valid. */
export async function artifactErrors(kind: ArtifactKind, value: unknown): Promise<string | null> {
  const check = await artifactValidator(kind);
  return check(value) ? null : describeErrors(check.errors);
}

/** Fails the test, listing ajv's errors, when `value` does not follow `kind`'s published schema. */
export async function assertValidArtifact(
  kind: ArtifactKind,
  value: unknown,
  label: string = kind,
): Promise<void> {
  const errors = await artifactErrors(kind, value);
  if (errors !== null) {
    assert.fail(`${label} does not follow dbt's ${ARTIFACT_SCHEMAS[kind]}:\n${errors}`);
  }
}

/** Reads `target/<kind>.json` of a project and checks it against its schema; returns it parsed. */
export async function assertValidArtifactFile(
  projectDir: string,
  kind: ArtifactKind,
): Promise<Record<string, unknown>> {
  const path = `${projectDir}/target/${kind}.json`;
  const value = JSON.parse(await Deno.readTextFile(path));
  await assertValidArtifact(kind, value, path);
  return value;
}
