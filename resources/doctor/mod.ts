/**
 * `doctor`: probes each configured resource and reports which implementation
 * answers and how fast.
 *
 * @module
 */

export { diagnose, type DiagnoseOptions, type Diagnosis, implementationOf } from "./diagnose.ts";
export { doctorCommand } from "./command.ts";
