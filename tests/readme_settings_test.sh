#!/usr/bin/env bash
# The README's environment variable table must be exactly what the settings table prints.
set -euo pipefail
cohortrun=$1
readme=$2
expected=$("$cohortrun" --print-settings-table)
actual=$(sed -n '/^<!-- BEGIN GENERATED/,/^<!-- END GENERATED/p' "$readme" | grep '^|')
if [ "$expected" != "$actual" ]; then
  echo "README.md's settings table is stale; regenerate it with: cohortrun --print-settings-table"
  diff <(echo "$expected") <(echo "$actual") || true
  exit 1
fi
echo "readme_settings_test: README table matches the settings table"
