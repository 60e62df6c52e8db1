/**
 * dbt's "Configuration paths exist in your dbt_project.yml file which do not
 * apply to any resources" warning: a folder under `models:` (`seeds:`, ...)
 * of the root project's dbt_project.yml that no resource's fqn starts with,
 * usually a misspelt folder (`mart:` for `marts/`) whose configs silently
 * configure nothing.
 *
 * @module
 */

/** Resource fqns by dbt_project.yml section (`models`, `seeds`, ...), disabled ones included. */
export type FqnsBySection = Readonly<Record<string, readonly (readonly string[])[]>>;

/**
 * dbt-core's `_get_config_paths`: every key path of `config` that holds a
 * config, that is a value that is not a mapping or a `+` key. A mapping under
 * a key without `+` is a folder, even `persist_docs: {...}` written without
 * `+` (dbt treats it as a folder too).
 */
export function configPaths(config: unknown, path: readonly string[] = []): string[][] {
  if (typeof config !== "object" || config === null || Array.isArray(config)) return [];
  const paths = new Map<string, string[]>();
  for (const [key, value] of Object.entries(config)) {
    if (
      typeof value === "object" && value !== null && !Array.isArray(value) && !key.startsWith("+")
    ) {
      for (const sub of configPaths(value, [...path, key])) paths.set(sub.join("\u0000"), sub);
    } else paths.set(path.join("\u0000"), [...path]);
  }
  return [...paths.values()];
}

/**
 * The unused configuration paths of `projectFile` (`models.demo.mart`), in
 * the order they are written, for the sections `fqns` covers.
 */
export function unusedConfigPaths(
  projectFile: Readonly<Record<string, unknown>>,
  fqns: FqnsBySection,
): string[] {
  const unused: string[] = [];
  for (const [section, sectionFqns] of Object.entries(fqns)) {
    for (const path of configPaths(projectFile[section])) {
      const used = sectionFqns.some((fqn) =>
        path.length <= fqn.length && path.every((part, i) => fqn[i] === part)
      );
      if (!used) unused.push([section, ...path].join("."));
    }
  }
  return unused;
}

/** dbt's UnusedResourceConfigPath text for `paths`, or undefined without any. */
export function unusedConfigWarning(paths: readonly string[]): string | undefined {
  if (paths.length === 0) return undefined;
  return "Configuration paths exist in your dbt_project.yml file which do not apply to any " +
    `resources.\nThere are ${paths.length} unused configuration paths:\n` +
    paths.map((p) => `- ${p}`).join("\n");
}
