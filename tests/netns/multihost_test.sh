#!/usr/bin/env bash
# Multi-host test on one machine: two network namespaces ("hosts") joined by veth pairs and a
# bridge, each with its own address in a private /24 (10.231.N.0/24; the bridge holds .1 in the
# root namespace, where cohortrun and its store run). cohortrun starts the ranks in them with
# --rsh 'ip netns exec'. Cases:
#   collectives  -H ns1:2,ns2:2 collective_check over tcp, every element checked, with one
#                socket per pair and with four (COHORT_SOCKET_NSTREAMS=4); again over ucx
#                (UCX_TLS=tcp); and with the default transports (shm inside a host, tcp
#                across), checking that the hierarchical algorithms were chosen
#   placement    (--hostfile) each rank runs in its namespace with its identity; output
#                prefixed [rank]
#   kill         the last rank (on ns2) SIGKILLs itself mid-allreduce: the job stops on both
#                "hosts", cohortrun names the rank and host, and no process is left in either
#   secret       a client in ns2 with a wrong secret is refused by the job's store
#   unreachable  a host that does not exist gives a clear error and no hang
# A link taken down mid-allreduce is a case of the fault suite (tests/faults, link-down), over
# tcp and ucx, with its detection time in tests/faults/README.md.
# The namespaces, veths and bridge are removed on every exit (trap). Skips (exit 77) where they
# cannot be made: not root, no `ip`, or no permission to create namespaces.
# Usage: multihost_test.sh COHORTRUN COLLECTIVE_CHECK FAULT_KILL
set -u
cohortrun=$1 check=$2 fault_kill=$3
skip() { echo "multihost_test: SKIP: $*"; exit 77; }

source "$(dirname "$0")/two_hosts.sh"
trap two_hosts_cleanup EXIT
trap 'exit 1' INT TERM HUP
two_hosts_make
made=$?
[ "$made" -eq 77 ] && skip "$two_hosts_error"
[ "$made" -eq 0 ] || { echo "multihost_test: FAIL: setting up the namespaces: $two_hosts_error"; exit 1; }

failed=0
fail() { echo "multihost_test: FAIL: $*"; failed=1; }
run() {  # run NAME COMMAND...: output in $work/NAME, status in $status
  local name=$1
  shift
  "$@" >"$work/$name" 2>&1
  status=$?
  echo "---- $name (exit $status)"
  cat "$work/$name"
}
left_behind() {  # processes still in the namespaces
  echo "$(ip netns pids "$ns1") $(ip netns pids "$ns2")" | tr -s ' ' | sed 's/^ *//; s/ *$//'
}

mh=(--rsh "ip netns exec" --store-addr "$net.1" --network-interface cohort0)

# 1. Every collective across the two hosts over tcp: one socket per pair, then four
#    (COHORT_SOCKET_NSTREAMS=4: messages of 64 KiB or more cut over all four), same checks.
for streams in 1 4; do
  name=collectives
  [ "$streams" -eq 1 ] || name=collectives_${streams}streams
  run "$name" timeout 600 "$cohortrun" -H "$ns1:2,$ns2:2" "${mh[@]}" --timeout 500 \
    -x COHORT_TRANSPORT=tcp -x COHORT_TIMEOUT=60 -x COHORT_SOCKET_NSTREAMS=$streams \
    "$check" --big-scope min --expect-transport tcp --seed 4242
  [ "$status" -eq 0 ] || fail "$name: cohortrun exited $status"
  grep -qE "^\[0\] collective_check: [0-9]+ checks passed \(4 ranks" "$work/$name" ||
    fail "$name: no '[0] collective_check: N checks passed (4 ranks' line"
done

# 1a. The default transports (auto: shm inside each host, tcp across), where allreduce, broadcast
#     and allgather must choose the hierarchical algorithms.
run collectives_auto timeout 600 "$cohortrun" -H "$ns1:2,$ns2:2" "${mh[@]}" --timeout 500 \
  -x COHORT_TIMEOUT=60 "$check" --big-scope min --expect-transport shm/tcp \
  --expect-algorithm hierarchical --seed 4244
[ "$status" -eq 0 ] || fail "collectives_auto: cohortrun exited $status"
grep -qE "^\[0\] collective_check: [0-9]+ checks passed \(4 ranks" "$work/collectives_auto" ||
  fail "collectives_auto: no '[0] collective_check: N checks passed (4 ranks' line"

# 1b. The same over ucx (libcohort_ucx), with UCX's tcp transport on the namespaces' interface
# (COHORT_SOCKET_IFNAME from --network-interface becomes UCX_NET_DEVICES). Skipped, with a
# message, where cohort was built without UCX.
if [ -e "$(dirname "$cohortrun")/../libcohort_ucx.so" ]; then
  run collectives_ucx timeout 600 "$cohortrun" -H "$ns1:2,$ns2:2" "${mh[@]}" --timeout 500 \
    -x COHORT_TRANSPORT=ucx -x UCX_TLS=tcp -x COHORT_TIMEOUT=60 \
    "$check" --big-scope min --expect-transport ucx --seed 4243
  [ "$status" -eq 0 ] || fail "collectives_ucx: cohortrun exited $status"
  grep -qE "^\[0\] collective_check: [0-9]+ checks passed \(4 ranks" "$work/collectives_ucx" ||
    fail "collectives_ucx: no '[0] collective_check: N checks passed (4 ranks' line"
else
  echo "multihost_test: collectives_ucx skipped: no libcohort_ucx.so (built without UCX)"
fi

# Each rank runs in its own "host", knows its identity, and its output comes back prefixed.
# The hosts come from a hostfile this time, in both of its forms.
printf '# the two "hosts"\n%s slots=2\n\n%s:2  # Horovod form\n' "$ns1" "$ns2" >"$work/hostfile"
run placement timeout 60 "$cohortrun" --hostfile "$work/hostfile" "${mh[@]}" --timeout 30 sh -c \
  'echo "rank $COHORT_RANK node $COHORT_NODE_RANK local $COHORT_LOCAL_RANK if $COHORT_SOCKET_IFNAME addr $(ip -o -4 addr show dev cohort0 | awk "{print \$4}")"'
[ "$status" -eq 0 ] || fail "placement: cohortrun exited $status"
for r in 0 1 2 3; do
  node=$((r / 2)) local=$((r % 2))
  grep -qx "\[$r\] rank $r node $node local $local if cohort0 addr $net.1$((node + 1))/24" "$work/placement" ||
    fail "placement: rank $r's line is missing or wrong"
done

# 2. A rank killed on one host stops the job on every host, and leaves nothing behind.
start=$(date +%s)
run kill timeout 300 "$cohortrun" -H "$ns1:2,$ns2:2" "${mh[@]}" --timeout 200 --grace 20 \
  -x COHORT_TRANSPORT=tcp -x COHORT_TIMEOUT=60 "$fault_kill" --mib 64
took=$(( $(date +%s) - start ))
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "kill: cohortrun exited $status"
grep -qE "rank 3 \(pid [0-9]+\) was killed by signal 9 \(SIGKILL\) on host $ns2" "$work/kill" ||
  fail "kill: cohortrun did not name rank 3 on host $ns2"
for r in 0 1 2; do
  grep -qE "fault_kill: rank $r error after .* names rank 3: yes" "$work/kill" ||
    fail "kill: rank $r did not report an error naming rank 3"
done
[ "$took" -le 120 ] || fail "kill: the job took $took s to stop"
sleep 1
rest=$(left_behind)
[ -z "$rest" ] || fail "kill: processes left in the namespaces: $(ps -o pid,args -p ${rest// /,} 2>&1)"

# 3. A client in ns2 with a wrong secret is refused by a running job's store.
"$cohortrun" -H "$ns1:1" "${mh[@]}" --timeout 60 sh -c 'echo "store=$COHORT_STORE_ADDR"; sleep 30' \
  >"$work/holder" 2>&1 &
holder=$!
store=""
for _ in $(seq 100); do
  store=$(sed -n 's/.*store=//p' "$work/holder" | head -n 1)
  [ -n "$store" ] && break
  sleep 0.1
done
if [ -z "$store" ]; then
  fail "secret: the holding job printed no store address: $(cat "$work/holder")"
else
  run secret timeout 60 ip netns exec "$ns2" env COHORT_STORE_ADDR="$store" COHORT_RANK=1 \
    COHORT_WORLD_SIZE=2 COHORT_JOB_SECRET=not-the-secret COHORT_TIMEOUT=10 \
    COHORT_SOCKET_IFNAME=cohort0 "$check" --counts 1 --big-scope none
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "secret: the client exited $status"
  grep -qi "secret" "$work/secret" || fail "secret: the error does not mention the job secret"
fi
kill -TERM "$holder" 2>/dev/null
wait "$holder"
sleep 1
rest=$(left_behind)
[ -z "$rest" ] || fail "secret: processes left in the namespaces after SIGTERM to cohortrun"

# 4. A host that cannot be reached: a clear error, quickly.
run unreachable timeout 60 "$cohortrun" -H "$ns1:1,${tag}nohost:1" "${mh[@]}" --timeout 30 true
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || fail "unreachable: cohortrun exited $status"
grep -q "could not start rank 1 on host ${tag}nohost" "$work/unreachable" ||
  fail "unreachable: the error does not name the host"

if [ "$failed" -eq 0 ]; then
  echo "multihost_test: PASS (collectives with 1 and 4 tcp streams, placement, kill, secret, unreachable across $ns1 and $ns2)"
fi
exit "$failed"
