"""The cases of the fault-injection suite (run_faults.py): which operation, over which transport,
meets which fault, and how long past COHORT_TIMEOUT the error may take."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    op: str                   # fault_case --op
    fault: str                # fault_case --fault
    transport: str = "auto"   # COHORT_TRANSPORT
    detail: bool = False      # COHORT_DEBUG=DETAIL
    np: int = 4
    victim: int = None        # default: the last rank
    mib: int = 4
    margin: int = 3           # seconds allowed past COHORT_TIMEOUT
    launch: str = "cohortrun"  # or "env": torchrun-style variables, rank 0 holds the store;
                               # or "netns": ranks 0-1 and 2-3 on two namespaces (two_hosts_job.sh)
    disk_kib: int = 0         # full-disk: size of the tmpfs
    label: str = ""

    @property
    def name(self):
        parts = [self.op, self.fault, self.transport] + (["detail"] if self.detail else [])
        return "-".join(parts + ([self.label] if self.label else []))

    def observers(self, victim):
        """The ranks that must raise an error. Mismatches and a full disk fail every rank, the
        victim included; a lost link, the ranks of the first host (ranks 0 to np/2-1): those of
        the host taken off the network fail too, but nothing they say can reach the launcher."""
        if self.fault == "link-down":
            return list(range(self.np // 2))
        everyone = self.fault.startswith("mismatch") or self.fault == "full-disk"
        return [r for r in range(self.np) if r != victim or everyone]

    def culprits(self, victim):
        """The ranks an error may name: across a lost link, any rank of the other host."""
        return range(self.np // 2, self.np) if self.fault == "link-down" else (victim,)

    @property
    def op_words(self):
        """Words of which an error must contain one, to name the operation."""
        if self.fault == "mismatch-op":  # either call of the mismatch (fault_case's swap)
            return (self.op, "allreduce" if self.op == "broadcast" else "broadcast")
        return (self.op,)


COLLECTIVES = ("allreduce", "broadcast", "allgather")
TRANSPORTS = ("shm", "tcp", "ucx")
KILLS = ("kill-before", "kill-during", "kill-after", "stop")

ALL_CASES = (
    # A rank killed before, during and after the call, or frozen, over every transport.
    [Case(op, fault, transport) for transport in TRANSPORTS for op in COLLECTIVES for fault in KILLS]
    # Mismatched calls: found by the fingerprints of COHORT_DEBUG=DETAIL over shm and tcp, and
    # without them over tcp (from the messages, or at the timeout).
    + [Case(op, f"mismatch-{what}", transport, detail)
       for transport, detail in (("shm", True), ("tcp", True), ("tcp", False))
       for op in COLLECTIVES for what in ("op", "count", "dtype")]
    + [Case("broadcast", "mismatch-root", t, d) for t, d in (("shm", True), ("tcp", True), ("tcp", False))]
    # The parameter store: a server slice in every rank, killed during pushes and pulls over
    # every transport. A frozen server is caught by the store's own timeout (15 s here), whatever
    # the transport and call, so it is met once by a push over shm and once by a pull over tcp.
    + [Case(op, "kill-during", transport) for transport in TRANSPORTS for op in ("push", "pull")]
    + [Case(op, "stop", transport, margin=13) for op, transport in (("push", "shm"), ("pull", "tcp"))]
    # The store's process dies: cohortrun itself, or rank 0 under torchrun-style variables.
    + [Case("allreduce", "launcher-killed", t) for t in ("shm", "tcp")]
    + [Case("allreduce", "kill-during", "tcp", victim=0, launch="env", label="store-host")]
    # A host's link taken down mid-allreduce (two network namespaces; the victim's host goes).
    + [Case("allreduce", "link-down", t, launch="netns", margin=5) for t in ("tcp", "ucx")]
    # A full disk during a checkpoint.
    + [Case("save", "full-disk", "auto", mib=1, disk_kib=1536)]
)
