#!/usr/bin/env python3
"""Writes the committed seed corpora: tests/fuzz/corpus/<target>/<name>, a handful of small valid
and near-valid inputs per fuzz target. Re-run after changing a target's input layout:
    python3 tests/fuzz/make_corpus.py
Targets that read their input through FuzzedDataProvider (FDP) take integers from the END of the
input and bytes and strings from the front; `Fdp` below writes inputs in that layout, mirroring
the order in which each target's code consumes them."""
import os
import re
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


class Fdp:
    """Builds an input for clang's FuzzedDataProvider, value by value, in consumption order."""

    def __init__(self):
        self.front = bytearray()
        self.back = bytearray()  # in consumption order; stored reversed at the end of the input

    def int(self, value, lo, hi, bits):
        """ConsumeIntegralInRange<T>(lo, hi) returning `value`; `bits` = sizeof(T) * 8."""
        span = (hi - lo) % (1 << 64)
        assert lo <= value <= hi
        nbytes = 0
        while nbytes * 8 < bits and (span >> (nbytes * 8)) > 0:
            nbytes += 1
        result = (value - lo) % (1 << 64)
        self.back += result.to_bytes(nbytes, "big") if nbytes else b""
        return self

    def u8(self, value):
        return self.int(value, 0, 255, 8)

    def i32(self, value):
        return self.int(value, -(1 << 31), (1 << 31) - 1, 32)

    def u32(self, value):
        return self.int(value, 0, (1 << 32) - 1, 32)

    def i64(self, value):
        return self.int(value, -(1 << 63), (1 << 63) - 1, 64)

    def u64(self, value):
        return self.int(value, 0, (1 << 64) - 1, 64)

    def bool(self, value):
        return self.u8(1 if value else 0)

    def bytes(self, data):
        """ConsumeBytes / ConsumeRemainingBytes (the latter only as the last value)."""
        self.front += data
        return self

    def string(self, text):
        """ConsumeRandomLengthString: backslashes doubled, then a terminating escape."""
        data = text.encode() if isinstance(text, str) else text
        self.front += data.replace(b"\\", b"\\\\") + b"\\."
        return self

    def build(self):
        return bytes(self.front) + bytes(reversed(self.back))


# ----- store protocol (raw frames) -----
STORE_MAGIC = 0x31545343
OPS = {"set": 1, "get": 2, "add": 3, "cas": 4, "delete": 5, "check": 6, "wait": 7}


def store_frame(kind, number, fields, body_bytes=None, magic=STORE_MAGIC, reserved=0):
    body = b"".join(struct.pack("<I", len(f)) + f for f in fields)
    n = len(body) if body_bytes is None else body_bytes
    return struct.pack("<IBBHIq", magic, kind, reserved, len(fields), n, number) + body


def store_protocol():
    return {
        "set": store_frame(OPS["set"], 0, [b"rank/0/addr", b"10.0.0.1:4000"]),
        "get_timeout": store_frame(OPS["get"], 1500, [b"key"]),
        "add": store_frame(OPS["add"], -3, [b"counter"]),
        "compare_set": store_frame(OPS["cas"], 0, [b"k", b"", b"new"]),
        "delete": store_frame(OPS["delete"], 0, [b"k"]),
        "check": store_frame(OPS["check"], 0, [b"k"]),
        "wait_keys": store_frame(OPS["wait"], 100, [b"a", b"b", b"c"]),
        "reply_value": store_frame(0, 0, [b"a value"]),
        "reply_error": store_frame(2, 0, [b"timed out waiting for store key 'x'"]),
        "truncated": store_frame(OPS["set"], 0, [b"key", b"value"])[:-3],
        "bad_magic": store_frame(OPS["get"], 0, [b"key"], magic=0x12345678),
        "huge_body": store_frame(OPS["set"], 0, [b"k", b"v"], body_bytes=0xFFFFFFF0),
    }


# ----- store server state (FDP: actions) -----
def store_request(f, op, number_small, fields, client):
    # Harness: action 0, op, bool small-number?, number, field count, fields, client.
    f.int(0, 0, 4, 32).int(OPS[op], 1, 7, 32)
    f.bool(True).int(number_small, -1, 200000, 64)
    f.int(len(fields), 0, 6, 64)
    for i, field in enumerate(fields):
        is_key = i == 0 or op == "wait"
        if is_key:
            if field.startswith("k") and field[1:].isdigit():
                f.bool(True).int(int(field[1:]), 0, 5, 32)
            else:
                f.bool(False).string(field)
        else:  # a value: a random string
            f.bool(False).string(field)
    f.int(client, 1, 4, 64)


def store_server_state():
    seeds = {}
    f = Fdp()
    store_request(f, "set", 0, ["k0", "v"], 1)
    store_request(f, "get", 0, ["k0"], 2)
    store_request(f, "add", 5, ["k1"], 3)
    seeds["set_get_add"] = f.build()
    f = Fdp()
    store_request(f, "get", 1000, ["k2"], 1)  # parks
    f.int(4, 0, 4, 32).bool(True).int(2, 0, 5, 32).bool(False).string("value")  # SetLocal k2
    seeds["park_then_set_local"] = f.build()
    f = Fdp()
    store_request(f, "wait", 50, ["k3", "k4"], 2)
    f.int(2, 0, 4, 32).int(100, 0, 100000, 64)  # time passes: the wait times out
    seeds["wait_times_out"] = f.build()
    f = Fdp()
    store_request(f, "cas", 0, ["k1", "", "x"], 1)
    store_request(f, "delete", 0, ["k1"], 1)
    store_request(f, "check", 0, ["k1"], 4)
    f.int(3, 0, 4, 32).int(1, 1, 4, 64)  # a client leaves
    seeds["cas_delete_check"] = f.build()
    return seeds


# ----- auth (FDP) -----
def auth():
    seeds = {}
    f = Fdp().int(0, 0, 2, 32).string("job-secret").bool(True).bool(True)
    f.bytes(bytes(range(32))).bytes(bytes(64))
    seeds["check_spliced_proof"] = f.build()
    f = Fdp().int(0, 0, 2, 32).string("s" * 80).bool(False).string("tcp-link").bool(False)
    f.bytes(bytes(32)).bytes(bytes(range(64)))
    seeds["check_wrong_proof"] = f.build()
    hello = b"COHAUTH1" + bytes(range(32))
    seeds["client_refused"] = Fdp().int(1, 0, 2, 32).bytes(hello + b"N").build()
    seeds["client_accepted_bad_proof"] = Fdp().int(1, 0, 2, 32).bytes(hello + b"Y" + bytes(32)).build()
    seeds["client_not_cohort"] = Fdp().int(1, 0, 2, 32).bytes(b"HTTP/1.1 400 Bad Request\r\n").build()
    seeds["server_response"] = Fdp().int(2, 0, 2, 32).bytes(bytes(range(64))).build()
    return seeds


# ----- stream link (FDP + raw stream) -----
CLNK, ABRT = 0x4B4E4C43, 0x54524241


def link_frame(tag, payload, flags=0, magic=CLNK, size=None):
    n = len(payload) if size is None else size
    return struct.pack("<IIQQ", magic, flags, tag, n) + payload


def stream_link_input(stream, recvs, sends=(), schedule=(), alter=None):
    f = Fdp()
    f.u64(1000).int(0, 0, 63, 32).int(4, 1, 64, 32).int(1, 0, 3, 32)  # stripe check
    f.u32(0).u64(0)
    f.int(recvs, 0, 6, 64).int(len(sends), 0, 3, 64)
    f.int(len(schedule), 0, 8, 64)
    for s in schedule:
        f.u8(s)
    for tag, size in sends:
        f.u64(tag).int(size, 0, 300, 64)
    for a in (alter or [0] * recvs):
        f.u8(a)
    f.bytes(stream)
    return f.build()


def stream_link():
    two = link_frame(7, b"hello") + link_frame(8, bytes(range(40)))
    piece = 0x80000000 | 4 | (1 << 8) | (2 << 16)
    return {
        "two_frames": stream_link_input(two, 2),
        "two_frames_in_pieces": stream_link_input(two, 2, schedule=[3, 0, 5, 1]),
        "frames_and_sends": stream_link_input(two, 2, sends=[(5, 10), (6, 0)], schedule=[4, 9]),
        "mismatch": stream_link_input(two, 2, alter=[0x81, 0]),
        "abort_frame": stream_link_input(link_frame(0, b"rank 0 gave up", magic=ABRT), 1),
        "garbage": stream_link_input(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1),
        "piece_flags": stream_link_input(link_frame(9, b"abcd", flags=piece), 1),
        "truncated_payload": stream_link_input(link_frame(3, b"0123456789")[:-4], 1),
    }


# ----- shm ring (FDP) -----
SHM_MAGIC = 0x4D48535452484F43


def shm_segment_header(owner, num_rings, ring_bytes, peers, version=1, pid=1234):
    head = struct.pack("<QIiqIIQ", SHM_MAGIC, version, owner, pid, num_rings, 0, ring_bytes)
    return head + b"".join(struct.pack("<i", p) for p in peers)


def shm_locate(owner, peer, size, segment):
    f = Fdp().bool(True).int(owner, 0, 3, 32).int(peer, 0, 3, 32).int(size, 0, 64 << 10, 64)
    return f.bytes(segment).build()


def shm_ring():
    seeds = {
        "segment_two_rings": shm_locate(0, 2, 4096 + 2 * 8192, shm_segment_header(0, 2, 4096, [1, 2])),
        "segment_too_small": shm_locate(0, 1, 8192, shm_segment_header(0, 1, 4096, [1])),
        "segment_zero_ring": shm_locate(1, 0, 12288, shm_segment_header(1, 1, 0, [0])),
        "segment_huge_ring": shm_locate(0, 1, 12288, shm_segment_header(0, 1, (1 << 64) - 4095, [1])),
    }
    # Streams: honest produce / read / write / consume on small rings.
    f = Fdp().bool(False).int(64, 16, 4096, 64).int(64, 16, 4096, 64).u64(0).u64(0).bool(True)
    f.int(0, 0, 6, 32).int(20, 0, 5000, 64)  # the peer produces 20 bytes
    for i in range(20):
        f.u8(i)
    f.int(2, 0, 6, 32).int(1, 1, 3, 64).int(30, 0, 5000, 64)  # read 30 (gets 20)
    f.int(3, 0, 6, 32).int(2, 1, 3, 64).int(40, 0, 5000, 64).int(40, 0, 5000, 64)  # write 80
    f.int(4, 0, 6, 32).int(50, 0, 5000, 64)  # the peer consumes 50
    f.int(5, 0, 6, 32).int(2, 0, 6, 32).int(1, 1, 3, 64).int(8, 0, 5000, 64)  # closed: EOF
    seeds["streams_honest"] = f.build()
    f = Fdp().bool(False).int(32, 16, 4096, 64).int(32, 16, 4096, 64).u64(0).u64(0).bool(True)
    f.int(1, 0, 6, 32).bool(True).bool(True).u64(1000)  # the peer moves the inbound head
    f.int(2, 0, 6, 32).int(1, 1, 3, 64).int(500, 0, 5000, 64)
    seeds["streams_hostile_head"] = f.build()
    return seeds


# ----- tcp hello (FDP) -----
def tcp_hello_input(world, nstreams, expected_all, rank, stream, splice, changes=(), raw=b""):
    f = Fdp().int(world, 1, 9, 32).int(nstreams, 1, 64, 32)
    for _ in range(world):
        f.bool(not expected_all)
        if expected_all:
            for _ in range(nstreams):
                f.int(1, 0, 3, 32)
    f.int(rank, 0, world - 1, 32).int(stream, 0, nstreams - 1, 32).bool(splice)
    if splice:
        f.int(len(changes), 0, 3, 64)
        for at, value in changes:
            f.int(at, 0, 15, 64).u8(value)
    else:
        f.bytes(raw)
    return f.build()


def tcp_hello():
    hello = struct.pack("<IiiI", 0x4F4C4548, 1, 4, (2 - 1) << 16 | 1)
    return {
        "accepted": tcp_hello_input(4, 2, True, 1, 1, True),
        "other_stream_count": tcp_hello_input(4, 2, True, 1, 0, True, changes=[(14, 5)]),
        "wrong_world": tcp_hello_input(4, 1, True, 2, 0, True, changes=[(8, 9)]),
        "raw_hello": tcp_hello_input(4, 2, True, 0, 0, False, raw=hello),
        "short": tcp_hello_input(2, 1, True, 0, 0, False, raw=b"HELO"),
    }


# ----- parameter store wire (selector byte + body) -----
def ps_string(s):
    return struct.pack("<I", len(s)) + s


def ps_key(name=b"layer.0.weight", dtype=0, shape=(64, 3, 7, 7)):
    return ps_string(name) + struct.pack("<BI", dtype, len(shape)) + b"".join(
        struct.pack("<q", d) for d in shape)


def ps_optimizer(kind=1, lr=0.1, momentum=0.9, bits=1):
    return struct.pack("<B7dB", kind, lr, momentum, 0.0, 1e-4, 0.9, 0.999, 1e-8, bits)


def ps_init():
    return (ps_key() + struct.pack("<iQQ", 1, 100, 5000) + ps_optimizer() +
            struct.pack("<BddQBiBi", 4, 0.0, 0.02, 99, 1, 3, 0, 4))


def ps_wire():
    load = (ps_string(b"ckpt-1") + ps_init() + struct.pack("<q", 9) + struct.pack("<I", 2) +
            struct.pack("<qq", 1, 2) + struct.pack("<I", 1) + ps_string(b"/x/shard-0.bin") +
            struct.pack("<7Q", 100, 5000, 640, 20000, 64, 100000, 77))
    save = (ps_string(b"shard-0.bin") + struct.pack("<QQI", 4096, 1234, 1) +
            struct.pack("<I6Q", 3, 0, 100, 0, 512, 64, 99) + ps_optimizer(2, 1e-3, 0.0, 2) +
            struct.pack("<qI", 7, 2) + struct.pack("<qq", 3, 4))
    return {
        "key": b"\x00" + ps_key(),
        "optimizer_adam": b"\x01" + ps_optimizer(2, 1e-3, 0.0, 2),
        "init": b"\x02" + ps_init(),
        "load": b"\x03" + load,
        "save_reply": b"\x04" + save,
        "save_reply_many_slices": b"\x04" + ps_string(b"f") + struct.pack("<QQI", 0, 0, 4000000),
        "key_negative_dim": b"\x00" + ps_key(shape=(4, -1)),
    }


# ----- launcher: hosts (FDP: bools, -np, then text) -----
def hosts_input(hostfile, text, np=0, oversubscribe=False):
    f = Fdp().bool(hostfile).bool(oversubscribe).bool(np == 0)
    if np:
        f.int(np, 1, 1000000, 32)
    return f.bytes(text.encode()).build()


def hosts():
    return {
        "dash_h": hosts_input(False, "node1:4,node2:4,node1", np=6),
        "dash_h_bad": hosts_input(False, "node1:x,[::1]:2"),
        "hostfile_openmpi": hosts_input(True, "# cluster\nnode1 slots=4 max_slots=8\nnode2 slots=2\n"),
        "hostfile_horovod": hosts_input(True, "node1:4\nnode2:4  # rack 2\n\n", np=12,
                                        oversubscribe=True),
        "hostfile_bad": hosts_input(True, "node1 slots=0\nnode2 cpus=4\n"),
        # Regression: one host's merged slots overflowed int (21 KB: also raises max_len).
        "merged_slots_past_int": hosts_input(False, "a:1000000," * 2148 + "a"),
    }


# ----- launcher: command line (NUL-separated words) -----
def launch_options():
    def argv(*words):
        return b"\0".join(w.encode() for w in words)
    return {
        "np_program": argv("-np", "4", "--tag-output", "./train", "--lr", "0.1"),
        "hosts": argv("-H", "a:2,b:2", "--rsh", "ssh -p 2222", "--timeout", "90s", "python3",
                      "x.py"),
        "exports": argv("-np", "2", "-x", "FOO=bar", "-x", "PATH", "--grace", "0", "--", "prog"),
        "mpi": argv("--mpi", "--hostfile", "hosts.txt", "-np", "8", "prog"),
        "bad_np": argv("-np", "many", "prog"),
        "print_config": argv("--print-config"),
    }


# ----- launcher: agent protocol (FDP: selector, then text) -----
def agent_job(fields):
    return b"".join(f.encode() + b"\0" for f in fields)


def agent_protocol():
    job = agent_job(["8", "1", "4", "4", "1", "10.0.0.1:29500", "job-7", "secret", "2", "python3",
                     "train.py", "1", "COHORT_DEBUG=INFO"])
    seeds = {
        "job": Fdp().int(0, 0, 2, 32).bytes(job).build(),
        "job_outside_world": Fdp().int(0, 0, 2, 32).bytes(agent_job(
            ["4", "0", "3", "2", "0", "h:1", "j", "s", "1", "p", "0"])).build(),
        "job_truncated": Fdp().int(0, 0, 2, 32).bytes(job[:-9]).build(),
        "header": Fdp().int(1, 0, 2, 32).bytes(b"cohort-agent-1 123").build(),
        # Regression: first_rank + count overflowed int.
        "job_rank_limits": Fdp().int(0, 0, 2, 32).bytes(agent_job(
            ["1073741824", "0", "1073741824", "1073741824", "0", "h:1", "j", "s", "1", "p",
             "0"])).build(),
    }
    f = Fdp().int(2, 0, 2, 32).string("@@cohort-agent exit 3 4242 256").i32(3).i32(4242).i32(0)
    seeds["lines"] = f.bytes(b"error: cannot exec\nprog").build()
    return seeds


# ----- settings (FDP: (variable, value) pairs) -----
def setting_names():
    """The settings fuzzer's variable list, in AllSettings() order: each name, then its aliases
    (read from the table in runtime/config/settings.cc, so that seeds follow it)."""
    table = open(os.path.join(HERE, "..", "..", "runtime", "config", "settings.cc")).read()
    names = []
    for name, aliases in re.findall(r'\{\{"(COHORT_[A-Z0-9_]+)", \{([^}]*)\}', table):
        names.append(name)
        names += re.findall(r'"([A-Z0-9_]+)"', aliases)
    return names


SETTING_NAMES = setting_names()


def settings_input(pairs):
    f = Fdp()
    for name, value in pairs:
        f.int(SETTING_NAMES.index(name), 0, len(SETTING_NAMES), 64).string(value)
    return f.build()


def settings():
    return {
        "valid": settings_input([("COHORT_TIMEOUT", "90s"), ("COHORT_SHM_RING_BYTES", "8MiB"),
                                 ("COHORT_SOCKET_NSTREAMS", "4"), ("COHORT_DEBUG", "info"),
                                 ("COHORT_BUSY_WAIT", "500ms")]),
        "alias": settings_input([("COHORT_LOG_LEVEL", "DETAIL"), ("COHORT_TRANSPORT", "tcp")]),
        "overflow": settings_input([("COHORT_CHUNK_BYTES", "18446744073709551616"),
                                    ("COHORT_CONNECT_TIMEOUT", "9999999999999h")]),
        "bad_job_id": settings_input([("COHORT_JOB_ID", "../../etc"), ("COHORT_PS_SERVERS", "-1")]),
        "slot_zero": settings_input([("COHORT_SHM_SLOT_BYTES", "0"), ("COHORT_JOB_SECRET", "x")]),
    }


# ----- identity (FDP: allow_single, then (variable, value) pairs) -----
IDENTITY_NAMES = ["COHORT_RANK", "COHORT_WORLD_SIZE", "COHORT_LOCAL_RANK", "COHORT_LOCAL_SIZE",
                  "COHORT_NODE_RANK", "COHORT_STORE_ADDR", "OMPI_COMM_WORLD_RANK",
                  "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                  "OMPI_COMM_WORLD_LOCAL_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                  "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NODEID", "RANK",
                  "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
                  "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE"]


def identity_input(pairs, allow_single=True):
    f = Fdp().bool(allow_single)
    for name, value in pairs:
        f.int(IDENTITY_NAMES.index(name), 0, len(IDENTITY_NAMES) - 1, 64)
        if isinstance(value, int):
            f.bool(True).int(value, -1, 9, 32)
        else:
            f.bool(False).string(value)
    return f.build()


def identity():
    return {
        "cohort": identity_input([("COHORT_RANK", 1), ("COHORT_WORLD_SIZE", 4),
                                  ("COHORT_LOCAL_RANK", 1), ("COHORT_LOCAL_SIZE", 2),
                                  ("COHORT_STORE_ADDR", "10.0.0.1:29500")]),
        "torchrun": identity_input([("RANK", 0), ("WORLD_SIZE", 2), ("MASTER_ADDR", "fe80::1"),
                                    ("MASTER_PORT", "29500"),
                                    ("TORCHELASTIC_USE_AGENT_STORE", "True")]),
        "slurm_conflict": identity_input([("SLURM_PROCID", 3), ("SLURM_NTASKS", 8),
                                          ("OMPI_COMM_WORLD_RANK", 2),
                                          ("OMPI_COMM_WORLD_SIZE", 8)]),
        "pmix_alone": identity_input([("PMIX_RANK", 0)], allow_single=False),
        "interfaces": identity_input([("COHORT_STORE_ADDR", "10.231.0.0/16"),
                                      ("MASTER_ADDR", "^docker,lo"), ("PMI_RANK", "=eth1")]),
    }


TARGETS = {
    "store_protocol": store_protocol,
    "store_server_state": store_server_state,
    "auth": auth,
    "stream_link": stream_link,
    "shm_ring": shm_ring,
    "tcp_hello": tcp_hello,
    "ps_wire": ps_wire,
    "hosts": hosts,
    "launch_options": launch_options,
    "agent_protocol": agent_protocol,
    "settings": settings,
    "identity": identity,
}


def main():
    for target, make in TARGETS.items():
        folder = os.path.join(CORPUS, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, data in make().items():
            with open(os.path.join(folder, name), "wb") as out:
                out.write(data)


if __name__ == "__main__":
    main()
