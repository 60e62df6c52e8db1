/**
 * dbt's custom metadata environment variables: `DBT_ENV_CUSTOM_ENV_*`, which
 * dbt writes (prefix stripped) to every artifact's `metadata.env` and hands
 * macros as `dbt_metadata_envs`.
 *
 * @module
 */

/** The prefix dbt-core strips (dbt.constants.METADATA_ENV_PREFIX). */
export const METADATA_ENV_PREFIX = "DBT_ENV_CUSTOM_ENV_";

/**
 * The variables of `environ` named with {@linkcode METADATA_ENV_PREFIX}, by
 * their name without it: what dbt-core's `get_metadata_vars()` returns.
 */
export function metadataEnv(environ: Readonly<Record<string, string>>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(environ).sort(([a], [b]) => a < b ? -1 : 1)) {
    if (name.startsWith(METADATA_ENV_PREFIX)) {
      picked[name.slice(METADATA_ENV_PREFIX.length)] = value;
    }
  }
  return picked;
}
