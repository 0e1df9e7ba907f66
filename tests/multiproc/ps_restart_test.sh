#!/usr/bin/env bash
# A parameter server dies mid-training and the job restarts from the last checkpoint:
#  1. reference: 4 workers train 10 steps without interruption (co-located servers);
#  2. 4 workers with 2 dedicated servers train, saving every 2 steps; before step 7 worker 0
#     SIGKILLs server 1. Every worker must fail within 30 s with an error that names parameter
#     server 1 and the key ranges it held; the job ends with a failure;
#  3. restart from the checkpoint (step 6) on 2 dedicated servers, and on 3 co-located servers
#     (resharding): right after the load each saves again, and the values, optimizer state and
#     steps must equal the checkpoint's bit for bit; trained to step 10, the final parameters must
#     equal the reference's bit for bit.
# Usage: ps_restart_test.sh COHORTRUN PS_CHECK
set -u
cohortrun=$1
check=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "ps_restart_test: FAIL: $*"; exit 1; }
run() { "$cohortrun" --timeout 300 -x COHORT_TIMEOUT=60 "$@"; }

run -np 4 "$check" --case train --steps 10 --final "$work/reference.bin" >"$work/ref.log" 2>&1 \
  || { cat "$work/ref.log"; fail "the reference run failed"; }

start=$(date +%s)
run -np 4 --servers 2 "$check" --case train --steps 10 --dir "$work/ckpt" --save-every 2 \
    --kill-server 1 --kill-at 7 >"$work/killed.log" 2>&1
status=$?
took=$(( $(date +%s) - start ))
cat "$work/killed.log"
[ "$status" -ne 0 ] || fail "the job whose server was killed exited 0"
for w in 0 1 2 3; do
  grep -q "worker $w: step 7 failed" "$work/killed.log" || fail "worker $w did not report the lost server"
  grep -q "worker $w: next call: .*parameter server 1 .*is gone.*held key '" "$work/killed.log" \
    || fail "worker $w's error does not name parameter server 1 and its key ranges"
done
[ "$took" -lt 45 ] || fail "the failure took ${took} s to surface"
echo "ps_restart_test: every worker named the dead server; the job ended after ${took} s"

# Restart on the same layout (2 dedicated servers) and on 3 co-located servers (resharding).
resume() {  # resume NAME LAUNCH...
  local name=$1
  shift
  run "$@" --case train --steps 10 --dir "$work/ckpt" --load --resave "$work/resaved-$name" \
      --final "$work/resumed-$name.bin" >"$work/resume-$name.log" 2>&1 \
    || { cat "$work/resume-$name.log"; fail "the restart on $name failed"; }
  "$check" --compare-checkpoints "$work/ckpt" "$work/resaved-$name" || fail "loaded state differs ($name)"
  "$check" --compare-files "$work/reference.bin" "$work/resumed-$name.bin" || fail "resumed training differs ($name)"
}
resume dedicated2 -np 4 --servers 2 "$check"
resume colocated3 -np 4 "$check" --servers 3
echo "ps_restart_test: restart from the last checkpoint passed (same and different server counts)"
