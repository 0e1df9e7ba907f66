#!/usr/bin/env bash
# two_hosts_job.sh COHORTRUN [ARGS...]: the fault suite's way across "hosts". Makes two fresh
# network namespaces joined by a bridge (tests/netns/two_hosts.sh) and runs
#   COHORTRUN -H ns1:2,ns2:2 --rsh 'ip netns exec' --store-addr BRIDGE --network-interface cohort0 ARGS
# Its first line, "two_hosts_job: link NAME", names the bridge side of the second host's veth:
# run_faults.py takes it down for the link-down case. The exit status is cohortrun's. Processes
# still in the namespaces 5 s after cohortrun ends are reported ("two_hosts_job: left in the
# namespaces: ..."), then everything is removed (77: namespaces cannot be made here).
set -u
cohortrun=$1
shift
source "$(dirname "$0")/../netns/two_hosts.sh"
trap two_hosts_cleanup EXIT
trap 'exit 1' INT TERM HUP
two_hosts_make
made=$?
[ "$made" -eq 77 ] && { echo "two_hosts_job: SKIP: $two_hosts_error"; exit 77; }
[ "$made" -eq 0 ] || { echo "two_hosts_job: setting up the namespaces failed: $two_hosts_error"; exit 1; }
echo "two_hosts_job: link ${tag}v2 namespaces $ns1 $ns2"
"$cohortrun" -H "$ns1:2,$ns2:2" --rsh "ip netns exec" --store-addr "$net.1" \
  --network-interface cohort0 "$@"
status=$?
for _ in $(seq 50); do
  rest=$(echo $(ip netns pids "$ns1") $(ip netns pids "$ns2"))
  [ -z "$rest" ] && break
  sleep 0.1
done
[ -z "$rest" ] || echo "two_hosts_job: left in the namespaces: $(ps -o comm= -p ${rest// /,} | sort | uniq -c | xargs)"
exit "$status"
