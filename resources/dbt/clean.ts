/**
 * `deno task dbt clean`: deletes the folders `clean-targets` of
 * dbt_project.yml lists, as dbt-core does. Only folders inside the project
 * are deleted (dbt 1.8's `--clean-project-files-only`, its default): a
 * `clean-targets: ["/"]` typo must never cost a disk. When STATE_DIR moves
 * target/ (see cli.ts), cleaning the project's `target-path` also deletes the
 * folder the runner really wrote to.
 *
 * @module
 */

import { resolve, sep } from "node:path";
import { DbtError, DbtErrorCode } from "./errors.ts";
import { readProjectFile } from "./project/project_file.ts";

/** Where `clean` prints and what it reads. */
export interface CleanOptions {
  /** The project folder. */
  readonly projectDir: string;
  /** The folder target/ is redirected to (`$STATE_DIR/dbt/<project>`), if any. */
  readonly targetDir?: string | undefined;
  /** One line of output. */
  readonly out: (line: string) => void;
}

/**
 * Deletes each `clean-targets` folder; returns the exit code (0). A target
 * outside the project is a `dbt.invalid_project` error naming it, before
 * anything is deleted.
 */
export async function cleanProject(options: CleanOptions): Promise<number> {
  const { projectDir, targetDir, out } = options;
  const file = await readProjectFile(projectDir);
  const raw = (file as Record<string, unknown>)["clean-targets"];
  const targets = Array.isArray(raw) ? raw.map(String) : [];
  const root = resolve(projectDir);
  const paths = targets.map((target) => {
    const path = resolve(root, target);
    if (!path.startsWith(root + sep)) {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `clean-targets entry '${target}' is not inside the project ` +
          `(${root}); dbt clean deletes only project folders: remove or fix that entry`,
        { file: "dbt_project.yml" },
      );
    }
    return { target, path };
  });
  if (paths.length === 0) out("Nothing to clean: dbt_project.yml lists no clean-targets.");
  const targetPath = resolve(root, file["target-path"]);
  for (const { target, path } of paths) {
    out(`Checking ${target}/*`);
    await removeTree(path);
    if (targetDir !== undefined && path === targetPath) {
      const moved = resolve(targetDir, file["target-path"]);
      await removeTree(moved);
      out(`Cleaned ${target}/* (and ${moved}, where STATE_DIR put it)`);
    } else {
      out(`Cleaned ${target}/*`);
    }
  }
  out("Finished cleaning all paths.");
  return 0;
}

/** Deletes a folder and what it holds; a missing one is already clean. */
async function removeTree(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
