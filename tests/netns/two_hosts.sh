# Sourced by tests/netns/multihost_test.sh and benchmarks/netns_bench.sh: two network
# namespaces ("hosts") joined by veth pairs and a bridge, each with its own address in a private
# /24 (10.231.N.0/24; the bridge holds .1 in the root namespace, ns1 .11, ns2 .12). Inside each
# namespace the interface is called cohort0, so one --network-interface fits every host.
# Names are unique to this shell's pid (interface names have at most 15 characters).
# Sets tag ns1 ns2 br net work. two_hosts_make returns 77 with a reason in $two_hosts_error if
# the namespaces cannot be made; two_hosts_cleanup (install it as the EXIT trap first) removes
# everything, killing what still runs inside.
tag=cmh$(( $$ % 100000 ))
ns1=${tag}a ns2=${tag}b br=${tag}br
net=10.231.$(( $$ % 200 + 20 ))
work=$(mktemp -d)
two_hosts_error=""

two_hosts_cleanup() {
  # Anything still running in a namespace goes first, or the namespace lingers.
  for ns in "$ns1" "$ns2"; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  ip link del "$br" 2>/dev/null
  ip link del "${tag}v1" 2>/dev/null
  ip link del "${tag}v2" 2>/dev/null
  rm -rf "$work"
}

two_hosts_make() {
  [ "$EUID" -eq 0 ] || { two_hosts_error="needs root to create network namespaces"; return 77; }
  command -v ip >/dev/null || { two_hosts_error="no 'ip' command (Debian package iproute2)"; return 77; }
  if ! ip netns add "$ns1" 2>"$work/err"; then
    two_hosts_error="cannot create a network namespace: $(cat "$work/err")"
    return 77
  fi
  ip netns add "$ns2" &&
    ip link add "$br" type bridge &&
    ip addr add "$net.1/24" dev "$br" &&
    ip link set "$br" up || return 1
  local i=1 ns
  for ns in "$ns1" "$ns2"; do
    ip link add "${tag}v$i" type veth peer name cohort0 netns "$ns" &&
      ip link set "${tag}v$i" master "$br" up &&
      ip -n "$ns" addr add "$net.1$i/24" dev cohort0 &&
      ip -n "$ns" link set cohort0 up &&
      ip -n "$ns" link set lo up || return 1
    i=$((i + 1))
  done
  # Both "hosts" must reach each other across the bridge, or everything after fails for a
  # reason that has nothing to do with cohort (bridged traffic filtered by a firewall).
  if command -v ping >/dev/null &&
     ! ip netns exec "$ns1" ping -c 1 -W 2 "$net.12" >/dev/null 2>&1; then
    two_hosts_error="$ns1 cannot ping $ns2 ($net.12) across bridge $br; is bridged traffic filtered (net.bridge.bridge-nf-call-iptables)?"
    return 1
  fi
  return 0
}
