/**
 * Every benchmark, one after the other: `deno task bench`. Figures only; never
 * part of `deno task test`.
 *
 * @module
 */

const BENCHES = [
  "core.ts",
  "object_store.ts",
  "warehouse.ts",
  "run_store.ts",
  "spatial.ts",
  "activity.ts",
  "csv.ts",
  "dbt.ts",
  "ui.ts",
];

for (const file of BENCHES) {
  const url = new URL(file, import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    continue;
  }
  console.log(`\n=== bench/${file} ===`);
  const { main } = await import(url.href) as { main: () => Promise<void> };
  await main();
}
