#!/usr/bin/env bash
# usage: .ci/readme_test.sh [--update]
#
# Tests the README itself, as a newcomer on a machine with only Deno would
# meet it: clones this repository into a temp folder and runs exactly the
# commands of the README's quick start (read from its first ```sh block),
# with the native tools hidden and no network beyond loopback
# (.ci/without_native_tools.sh --offline). Asserts that every command exits 0
# and that the tests skipped are exactly the expected ones
# (.ci/readme_expected_skips.txt: "file > test: tool", one a line).
# --update rewrites that file from this run instead of comparing.
#
# Deno's npm cache must already hold the lockfile's packages (.ci/run runs
# `deno install --frozen` first), as on any machine that ran Deno once: the
# clone gets no network. Needs root (unshare). Not part of `deno task test`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
expected="$repo/.ci/readme_expected_skips.txt"
update=false
[ "${1:-}" = "--update" ] && update=true

work=$(mktemp -d /tmp/readme-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/repo"

# The quick start's commands: the first ```sh block of README.md, comments dropped.
mapfile -t commands < <(awk '/^```sh$/ && !done {inside=1; next} /^```$/ && inside {inside=0; done=1} inside' \
  "$work/repo/README.md" | sed -E 's/[[:space:]]+#.*$//' | sed '/^[[:space:]]*$/d')
if [ ${#commands[@]} -eq 0 ]; then
  echo "README test: no \`\`\`sh block in README.md" >&2
  exit 1
fi
echo "README quick start commands: ${commands[*]/%/;}"

failed=0
i=0
for command in "${commands[@]}"; do
  i=$((i + 1))
  log="$work/command_$i.log"
  echo "== $command (native tools hidden, loopback only)"
  started=$(date +%s)
  set +e
  # A newcomer's shell: no CI=true (which turns skips into failures).
  .ci/without_native_tools.sh --offline env -u CI -C "$work/repo" NO_COLOR=1 bash -c "$command" \
    >"$log" 2>&1
  code=$?
  set -e
  echo "   exit $code in $(($(date +%s) - started)) s"
  if [ $code -ne 0 ]; then
    echo "README test: '$command' exited $code; last lines:" >&2
    tail -40 "$log" >&2
    failed=1
  fi
done

# The skipped tests: the test runner's "Skipped (N):" list, reduced to "file > test: tool".
test_log=$(grep -l '^Summary: ' "$work"/command_*.log | tail -1 || true)
if [ -z "$test_log" ]; then
  echo "README test: no command printed the test summary" >&2
  exit 1
fi
grep '^Summary: ' "$test_log"
awk '/^Skipped \([0-9]+\):$/ {on=1; next} on && /^  / {print; next} on {on=0}' "$test_log" |
  sed -E 's/^  //; s/: ([^:]*) missing \(.*$/: \1/; s/: ignored in code \(no tool probe\)$/: ignored in code/' |
  LC_ALL=C sort >"$work/skips.txt"
if $update; then
  cp "$work/skips.txt" "$expected"
  echo "wrote $(wc -l <"$expected") expected skips to .ci/readme_expected_skips.txt"
elif ! diff -u "$expected" "$work/skips.txt" >"$work/skips.diff"; then
  echo "README test: the skipped tests differ from .ci/readme_expected_skips.txt" \
    "(- expected, + this run); if the change is intended, run: bash .ci/readme_test.sh --update" >&2
  cat "$work/skips.diff" >&2
  failed=1
else
  echo "skipped tests as expected: $(wc -l <"$expected") ($(sed -E 's/.*: //' "$expected" | sort |
    uniq -c | awk '{n=$1; $1=""; printf "%s%s %s", sep, n, substr($0,2); sep=", "}'))"
fi
exit $failed
