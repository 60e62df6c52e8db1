"""Renders templates with Jinja2 as dbt-core does, for tools/jinja_fuzz.

Reads one JSON array of template strings on stdin; writes one JSON array of
results: {"ok": true, "out": "..."} or {"ok": false, "err": "..."}.

The environment is dbt-common's (dbt_common/clients/jinja.py, get_environment
for a compile render): a SandboxedEnvironment with jinja2.ext.do and
jinja2.ext.loopcontrols, the default Undefined (no StrictUndefined at compile
time), no autoescape, no trim_blocks/lstrip_blocks, keep_trailing_newline off.
dbt's context adds `set` and `zip` (dbt/context/base.py: set_/zip_, which
return the default on a TypeError), and `tojson` (json.dumps with sort_keys
False); templates use those as dbt macros do.
"""

import json
import sys

import jinja2
import jinja2.sandbox


def dbt_set(value, default=None):
    try:
        return set(value)
    except TypeError:
        return default


def dbt_zip(*args, default=None):
    try:
        return zip(*args)
    except TypeError:
        return default


def dbt_tojson(value, default=None, sort_keys=False):
    try:
        return json.dumps(value, sort_keys=sort_keys)
    except ValueError:
        return default


def main():
    env = jinja2.sandbox.SandboxedEnvironment(
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"]
    )
    env.globals.update({"set": dbt_set, "zip": dbt_zip, "tojson": dbt_tojson})
    results = []
    for text in json.load(sys.stdin):
        try:
            out = env.from_string(text).render()
            results.append({"ok": True, "out": out})
        except Exception as error:  # noqa: BLE001 - any failure is the oracle's answer
            results.append({"ok": False, "err": f"{type(error).__name__}: {error}"})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
