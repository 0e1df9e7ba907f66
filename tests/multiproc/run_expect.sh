#!/usr/bin/env bash
# Runs a command, shows its output, and passes only when it exits 0 AND its output matches the
# extended regex PATTERN (a job that exits 0 without doing its work does not pass), and no
# sanitizer reported an error.
# Usage: run_expect.sh PATTERN COMMAND [ARGS...]
set -u
pattern=$1
shift
output=$(mktemp)
trap 'rm -f "$output"' EXIT
"$@" >"$output" 2>&1
status=$?
cat "$output"
if [ "$status" -ne 0 ]; then
  echo "run_expect: FAIL: exit status $status"
  exit 1
fi
if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$output"; then
  echo "run_expect: FAIL: a sanitizer reported an error"
  exit 1
fi
if ! grep -qE "$pattern" "$output"; then
  echo "run_expect: FAIL: output does not match '$pattern'"
  exit 1
fi
