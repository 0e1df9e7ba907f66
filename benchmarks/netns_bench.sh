#!/usr/bin/env bash
# Two "hosts" on this machine (network namespaces joined by veth pairs and a bridge; see
# tests/netns/two_hosts.sh), one rank on each, measured side by side in interleaved rounds:
#   raw-tcp       plain sockets between the namespaces (benchmarks/tcp_stream.py), 1 GiB per
#                 run: one way with 1 and 4 streams, and both ways at once with 1 stream each
#                 (per direction: what a 2-rank allreduce or allgather, which sends and receives
#                 at once, can get)
#   cohort tcp    cohort-bench allreduce and allgather at 64 MiB over tcp, through cohortrun
#                 --rsh 'ip netns exec', with one tcp socket per pair and with four
#                 (COHORT_SOCKET_NSTREAMS=4; column streams), side by side
#   cohort ucx    the same over the ucx transport with UCX_TLS=tcp (skipped without
#                 libcohort_ucx.so)
#   cohort 2x2    two ranks in each namespace (4 in all), tcp: the selector's choice
#                 (hierarchical: shm inside a host, tcp across) against a flat ring forced with
#                 COHORT_ALGO=ring
#   openmpi       the same through cohort-bench --baseline mpi under mpirun (ob1/tcp), its
#                 daemons started in the namespaces through plm_rsh_agent 'ip netns exec'
# Writes results.csv (every run), summary.md (medians, ratios to raw TCP), results.png,
# log.txt and commands.txt to OUTDIR. Needs root (it makes the namespaces and removes them).
#   bash benchmarks/netns_bench.sh [OUTDIR] [BUILD_DIR] [ROUNDS]
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/results/$(date +%F)-netns}
build=$(cd "${2:-build}" && pwd)
rounds=${3:-3}
mkdir -p "$out"
out=$(cd "$out" && pwd)
source "$here/../tests/netns/two_hosts.sh"
trap two_hosts_cleanup EXIT
trap 'exit 1' INT TERM HUP
two_hosts_make || { echo "netns_bench: cannot make the namespaces: $two_hosts_error" >&2; exit 1; }

log=$out/log.txt
csv=$out/results.csv
cmds=$out/commands.txt
echo "# made by: bash benchmarks/netns_bench.sh $*" >"$cmds"
echo "system,collective,streams,round,GBps" >"$csv"
: >"$log"
gib=$((1 << 30))

stream_pair() {  # stream_pair FROM_NS TO_NS TO_ADDR STREAMS PORT OUTFILE ROUND: one direction
  local server=(ip netns exec "$2" /usr/bin/python3 "$here/tcp_stream.py" server --bind "$3"
                --port "$5" --streams "$4" --bytes "$gib")
  local client=(ip netns exec "$1" /usr/bin/python3 "$here/tcp_stream.py" client
                --connect "$3" --port "$5" --streams "$4" --bytes "$gib")
  [ "$7" -eq 1 ] && echo "${server[*]} & ${client[*]}" >>"$cmds"
  "${server[@]}" >"$6" 2>>"$log" &
  local pid=$!
  "${client[@]}" 2>>"$log"
  wait "$pid"
  cat "$6" >>"$log"
}

gbps_of() { /usr/bin/python3 -c 'import json,sys; print(sum(json.load(open(f))["GBps"] for f in sys.argv[1:]) / (len(sys.argv) - 1))' "$@"; }

raw_tcp() {  # raw_tcp STREAMS ROUND: ns1 -> ns2
  stream_pair "$ns1" "$ns2" "$net.12" "$1" $((5201 + RANDOM % 1000)) "$work/raw" "$2"
  echo "raw-tcp,one-way,$1,$2,$(gbps_of "$work/raw")" >>"$csv"
}

raw_tcp_both_ways() {  # raw_tcp_both_ways ROUND: ns1 -> ns2 and ns2 -> ns1 at once, per direction
  local port=$((6201 + RANDOM % 1000))
  stream_pair "$ns1" "$ns2" "$net.12" 1 "$port" "$work/raw12" "$1" &
  local other=$!
  stream_pair "$ns2" "$ns1" "$net.11" 1 $((port + 1)) "$work/raw21" "$1"
  wait "$other"
  echo "raw-tcp,both-ways,1,$1,$(gbps_of "$work/raw12" "$work/raw21")" >>"$csv"
}

busbw() {  # busbw SYSTEM COLLECTIVE STREAMS ROUND JSON: the out-of-place busbw of the JSON's one row
  local value
  value=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"][0]["oop"]["busbw"])' "$5" 2>>"$log") ||
    { echo "netns_bench: $1 $2 ($3 streams) round $4 wrote no result (see $log)" | tee -a "$log"; return; }
  echo "$1,$2,$3,$4,$value" >>"$csv"
}

bench=(-b 64M -e 64M -n 10 -w 3)
cohort() {  # cohort SYSTEM COLLECTIVE STREAMS ROUND HOSTS [-x VAR=VALUE...]: one cohort-bench run
  local system=$1 collective=$2 streams=$3 round=$4 hosts=$5
  shift 5
  local cmd=("$build/launcher/cohortrun" -H "$hosts" --rsh "ip netns exec"
             --store-addr "$net.1" --network-interface cohort0 --timeout 300
             -x COHORT_SOCKET_NSTREAMS="$streams" "$@"
             "$build/benchmarks/cohort-bench" "$collective" "${bench[@]}" --json "$work/cohort.json")
  [ "$round" -eq 1 ] && echo "${cmd[*]}" >>"$cmds"
  rm -f "$work/cohort.json"
  timeout 600 "${cmd[@]}" >>"$log" 2>&1
  busbw "$system" "$collective" "$streams" "$round" "$work/cohort.json"
}
have_ucx=0
[ -e "$build/libcohort_ucx.so" ] && have_ucx=1

# mpirun's remote shell: it hands over one command line (for ssh's shell), so run it with sh -c
# inside the namespace.
agent=$work/netns_agent
printf '#!/bin/sh\nns=$1\nshift\nexec ip netns exec "$ns" sh -c "$*"\n' >"$agent"
chmod +x "$agent"

openmpi() {  # openmpi COLLECTIVE ROUND
  local cmd=(mpirun --allow-run-as-root -np 2 --host "$ns1,$ns2" --mca plm_rsh_agent "$agent"
             --mca oob_tcp_if_include "$net.0/24" --mca pml ob1 --mca btl self,tcp
             --mca btl_tcp_if_include "$net.0/24" "$build/benchmarks/cohort-bench" "$1"
             "${bench[@]}" --baseline mpi --json "$work/mpi.json")
  [ "$2" -eq 1 ] && echo "${cmd[*]}" >>"$cmds"
  rm -f "$work/mpi.json"
  timeout 600 "${cmd[@]}" >>"$log" 2>&1
  busbw openmpi "$1" 1 "$2" "$work/mpi.json"
}

for r in $(seq 1 "$rounds"); do
  echo "netns_bench: round $r of $rounds"
  raw_tcp 1 "$r"
  raw_tcp 4 "$r"
  raw_tcp_both_ways "$r"
  for c in allreduce allgather; do
    cohort "cohort tcp" "$c" 1 "$r" "$ns1:1,$ns2:1" -x COHORT_TRANSPORT=tcp
    cohort "cohort tcp" "$c" 4 "$r" "$ns1:1,$ns2:1" -x COHORT_TRANSPORT=tcp
    [ "$have_ucx" -eq 1 ] &&
      cohort "cohort ucx" "$c" 1 "$r" "$ns1:1,$ns2:1" -x COHORT_TRANSPORT=ucx -x UCX_TLS=tcp
    cohort "cohort 2x2 hierarchical" "$c" 1 "$r" "$ns1:2,$ns2:2" -x COHORT_TRANSPORT=auto
    cohort "cohort 2x2 ring" "$c" 1 "$r" "$ns1:2,$ns2:2" -x COHORT_TRANSPORT=auto -x COHORT_ALGO=ring
    command -v mpirun >/dev/null && openmpi "$c" "$r"
  done
done
[ "$have_ucx" -eq 1 ] || echo "netns_bench: no ucx rows: $build has no libcohort_ucx.so (built without UCX)" | tee -a "$log"
/usr/bin/python3 "$here/netns_summary.py" "$csv" "$out/summary.md" "$out/results.png"
echo "netns_bench: results in $out"
