#!/usr/bin/env bash
# The commands in docs/*.md that scripts/check-readme.sh does not run (it runs
# README's and docs/usage.md's): most are measurements that take minutes to
# hours, so each cspnet command is parsed by the CLI itself without running
# (CSPNET_CHECK_ARGS=1: verbs, flags and their values), and each script a
# command names must exist. Run from anywhere after scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export CSPNET_CHECK_ARGS=1 R=out/run  # $R: a run folder in deploy.md
checked=0 failed=0
check() {  # FILE LINE COMMAND
  local where="$1:$2" command="$3" words program
  command="${command%%  #*}"            # a trailing comment
  command="${command%% > *}"            # an output redirection: nothing is written
  command="${command#flock /tmp/cspnet-build.lock }"
  command="$(sed -E 's/^mpirun( -[a-z]+ [^ ]+)* //' <<<"$command")"
  read -r -a words <<<"$command"
  program="${words[0]}"
  case "$program" in
    build/cspnet)
      if ! (eval "set -f; $command") >/dev/null 2>out/check-docs.err; then
        echo "check-docs.sh: $where: FAILED: $command" >&2; cat out/check-docs.err >&2; failed=$((failed + 1))
      fi ;;
    *python*)
      local script="${words[1]:-}"
      [[ "$script" == -c ]] && script=""
      if [[ -n "$script" && ! -f "$script" ]]; then
        echo "check-docs.sh: $where: no such script: $script" >&2; failed=$((failed + 1))
      fi ;;
    */) return ;;  # a folder in a layout table
    scripts/*|tests/*|bench/*)
      if [[ ! -f "$program" || ! -x "$program" ]]; then
        echo "check-docs.sh: $where: not an executable script: $program" >&2; failed=$((failed + 1))
      fi ;;
    *) return ;;
  esac
  checked=$((checked + 1))
  if [[ -n "${CHECK_DOCS_VERBOSE:-}" ]]; then echo "check-docs.sh: $where: $command"; fi
}
mkdir -p out
for doc in docs/*.md; do
  [[ "$doc" == docs/usage.md ]] && continue
  # Lines of fenced blocks and of 4-space indented blocks, with line numbers.
  while IFS=$'\t' read -r number line; do
    line="${line#"${line%%[![:space:]]*}"}"
    [[ "$line" =~ ^(build/cspnet|\.venv|python|scripts/|bench/|tests/|flock\ /tmp/cspnet-build.lock|mpirun) ]] || continue
    check "$doc" "$number" "$line"
  done < <(awk '/^```/{fenced=!fenced; next} fenced || /^    [^ *-]/ {print NR "\t" $0}' "$doc")
done
echo "check-docs.sh: $checked commands in docs/*.md checked, $failed failed"
[[ $failed -eq 0 ]]
