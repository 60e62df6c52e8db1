// Child process of the janitor test: creates a PostGIS workspace, says
// "ready", and waits to be killed without dropping it.

import { PostgisEngine } from "../../../resources/spatial/postgis.ts";

const [url, runId] = Deno.args;
const engine = await PostgisEngine.open(url!, { janitor: false });
await engine.createWorkspace(runId!);
console.log("ready");
await new Promise(() => {});
