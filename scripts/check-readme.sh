#!/usr/bin/env bash
# Runs every command of the README's "Using it" block and of docs/usage.md's
# sh blocks as written (from the repository root, after scripts/build.sh):
# each must exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
commands="$(awk '/^## Using it/{f=1} f&&/^```sh/{b=1;next} b&&/^```/{exit} b' README.md)
$(awk '/^```sh/{b=1;next} b&&/^```/{b=0} b' docs/usage.md)"
count=0
while IFS= read -r line; do
  command="${line%%  #*}"  # drop the trailing comment
  [ -z "${command// }" ] && continue
  count=$((count + 1))
  echo "check-readme.sh: $command"
  if ! bash -c "$command" >/dev/null 2>out/check-readme.err; then
    echo "check-readme.sh: FAILED: $command" >&2
    cat out/check-readme.err >&2
    exit 1
  fi
done <<<"$commands"
echo "check-readme.sh: $count README and docs/usage.md commands ran"
# The other docs' commands (long measurements): parsed by the CLI, not run.
scripts/check-docs.sh
