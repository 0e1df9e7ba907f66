#!/usr/bin/env bash
# Fault test: under cohortrun, the last rank SIGKILLs itself in the middle of a 256 MiB
# allreduce. Passes when cohortrun exits non-zero, every survivor printed an error naming the
# dead rank within 30 s, and no cohort-* entry created during the test is left in /dev/shm.
# Usage: fault_kill_test.sh COHORTRUN FAULT_KILL_PROGRAM NP [COHORTRUN OPTIONS...]
set -u
cohortrun=$1 program=$2 np=${3:-4}
shift 3
dead=$((np - 1))
shm_listing() { ls /dev/shm 2>/dev/null | grep '^cohort-' | sort; }

before=$(mktemp) after=$(mktemp) output=$(mktemp)
trap 'rm -f "$before" "$after" "$output"' EXIT
shm_listing >"$before"

# --grace 45: survivors get time to see the failure and report it before cohortrun stops them.
"$cohortrun" -np "$np" --timeout 240 --grace 45 -x COHORT_TIMEOUT=60 "$@" "$program" >"$output" 2>&1
status=$?
cat "$output"

failed=0
fail() { echo "fault_kill_test: FAIL: $*"; failed=1; }

[ "$status" -ne 0 ] || fail "cohortrun exited 0 although rank $dead was killed"
for ((r = 0; r < dead; r++)); do
  line=$(grep -E "fault_kill: rank $r error after" "$output" | head -n 1)
  if [ -z "$line" ]; then
    fail "rank $r printed no error"
  elif ! grep -qE "names rank $dead: yes" <<<"$line"; then
    fail "rank $r's error does not name rank $dead: $line"
  else
    seconds=$(sed -E 's/.*error after ([0-9.]+) s.*/\1/' <<<"$line")
    awk -v s="$seconds" 'BEGIN { exit !(s <= 30) }' || fail "rank $r learned after $seconds s (> 30 s)"
  fi
done

# Leftover shared memory: give the launcher's clean-up a moment, then compare.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  shm_listing >"$after"
  leftover=$(comm -13 "$before" "$after")
  [ -z "$leftover" ] && break
  sleep 0.5
done
[ -z "$leftover" ] || fail "left in /dev/shm: $(tr '\n' ' ' <<<"$leftover")"

if [ "$failed" -eq 0 ]; then
  echo "fault_kill_test: PASS (cohortrun exited $status; $dead survivors named rank $dead)"
fi
exit "$failed"
