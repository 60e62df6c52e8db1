/**
 * The global project's macros compiled ahead of time (resources/dbt/jinja/
 * precompiled.ts): the generated module is what the generator makes from
 * today's macros and compiler, it is used for that exact text only, and it
 * renders what compiling the text renders.
 */

import assert from "node:assert/strict";
import { JinjaEnv } from "../../../../resources/dbt/jinja/env.ts";
import { GLOBAL_MACROS_FILE } from "../../../../resources/dbt/jinja/global_project.ts";
import { globalProjectSource } from "../../../../resources/dbt/jinja/global_source.ts";
import { precompiledTemplate } from "../../../../resources/dbt/jinja/precompiled.ts";
import { DbtError } from "../../../../resources/dbt/errors.ts";
import { GENERATED, generatedModule } from "../../../../tools/gen_global_compiled.ts";
import { bareScope } from "./_scope.ts";

Deno.test("the generated global project code is what tools/gen_global_compiled.ts writes today", () => {
  assert.ok(
    Deno.readTextFileSync(GENERATED) === generatedModule(),
    "resources/dbt/jinja/global_compiled.ts is out of date (a global macro, the Jinja " +
      "preprocessing or the compiler changed): run `deno run -A tools/gen_global_compiled.ts`",
  );
});

/** An environment with the global project loaded from `source`, and a render of `text` in it. */
function globalProject(source: string): (text: string) => string {
  const env = new JinjaEnv({ dispatchPrefixes: ["postgres", "default"] });
  env.loadMacros(source, GLOBAL_MACROS_FILE, "dbt", bareScope(false));
  return (text) => env.render(env.compile(text, "models/m.sql"), bareScope(true));
}

Deno.test("an edited global project is compiled from its text, not served the generated code", () => {
  const source = globalProjectSource();
  assert.ok(precompiledTemplate(source, GLOBAL_MACROS_FILE), "the generated code is used");
  const edited = source.replace("date_trunc('{{ datepart }}'", "DATE_TRUNC('{{ datepart }}'");
  assert.notEqual(edited, source);
  assert.equal(edited.length, source.length); // same length: the digest, not the size, tells
  assert.equal(precompiledTemplate(edited, GLOBAL_MACROS_FILE), undefined);
  assert.equal(precompiledTemplate(source, "macros/other.sql"), undefined);
  const call = "{{ dbt.default__date_trunc('day', 'created_at') }}";
  assert.equal(globalProject(source)(call), "date_trunc('day', created_at)");
  assert.equal(globalProject(edited)(call), "DATE_TRUNC('day', created_at)");
});

Deno.test("the generated code renders and fails as compiling the same macros does", () => {
  const generated = globalProject(globalProjectSource());
  // One comment more: the same macros, compiled from their text in this process.
  const compiled = globalProject(`${globalProjectSource()}{# compiled here #}`);
  const calls = [
    "{{ dbt.date_trunc('month', 'd') }}",
    "{{ dbt.dateadd('day', 3, 'd') }}",
    "{{ dbt.datediff('a', 'b', 'week') }}",
    "{{ dbt.concat(['a', 'b']) }}",
    "{{ dbt.safe_cast('x', dbt.type_string()) }}",
    "{{ dbt.split_part('s', \"','\", 2) }}",
    "{{ dbt.hash('c') }} {{ dbt.current_timestamp() }} {{ dbt.type_timestamp() }}",
    "{{ dbt.any_value('x') }} {{ dbt.bool_or('x') }} {{ dbt.listagg('x', \"','\") }}",
  ];
  for (const call of calls) {
    const out = generated(call);
    assert.ok(out.trim() !== "", call);
    assert.equal(out, compiled(call), call);
  }
  const failure = (render: (text: string) => string) => {
    try {
      render("{{ dbt.datediff('a', 'b', 'fortnight') }}");
    } catch (error) {
      assert.ok(error instanceof DbtError, String(error));
      return [error.message, error.file, error.line];
    }
    assert.fail("rendered");
  };
  const [message] = failure(generated);
  assert.match(String(message), /Unsupported datepart for macro datediff in postgres: fortnight/);
  assert.deepEqual(failure(generated), failure(compiled));
});
