#!/usr/bin/python3
"""Raw TCP throughput between two hosts with plain sockets: the peer that cohort's tcp transport
is compared with in benchmarks/netns_bench.sh (iperf3 is not installed by default).

    tcp_stream.py server --bind 10.0.0.2 --port 5201 --streams 4 --bytes 1073741824
    tcp_stream.py client --connect 10.0.0.2 --port 5201 --streams 4 --bytes 1073741824

The client sends --bytes in all over --streams connections at once (a thread each: sendall
releases the GIL); the server receives into a reused buffer and prints one JSON line with the
bytes, the seconds from the first connection's first byte to the last byte, and GB/s (1e9).
"""
import argparse
import json
import socket
import sys
import threading
import time

CHUNK = 4 << 20  # bytes per send/recv call; the buffers are allocated once


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--connect")
    p.add_argument("--port", type=int, default=5201)
    p.add_argument("--streams", type=int, default=1)
    p.add_argument("--bytes", type=int, default=1 << 30, help="total over all streams")
    p.add_argument("--timeout", type=float, default=60, help="seconds before giving up")
    return p.parse_args()


def server(a):
    listener = socket.create_server((a.bind, a.port), backlog=a.streams)
    listener.settimeout(a.timeout)
    conns = [listener.accept()[0] for _ in range(a.streams)]
    share = a.bytes // a.streams
    first = []
    done = [0] * a.streams

    def drain(i, conn):
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        conn.settimeout(a.timeout)
        got = conn.recv_into(view)
        first.append(time.perf_counter())
        while got < share:
            n = conn.recv_into(view[:min(CHUNK, share - got)])
            if n == 0:
                raise ConnectionError(f"stream {i}: peer closed after {got} of {share} bytes")
            got += n
        done[i] = got

    threads = [threading.Thread(target=drain, args=(i, c)) for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.perf_counter()
    for c in conns:
        c.sendall(b"k")  # tells the client everything arrived
        c.close()
    total = sum(done)
    if total != share * a.streams:
        sys.exit(f"tcp_stream: received {total} of {share * a.streams} bytes")
    seconds = end - min(first)
    print(json.dumps({"bytes": total, "streams": a.streams, "seconds": seconds,
                      "GBps": total / seconds / 1e9}), flush=True)


def client(a):
    share = a.bytes // a.streams
    deadline = time.time() + a.timeout
    conns = []
    while len(conns) < a.streams:
        try:
            conns.append(socket.create_connection((a.connect, a.port), timeout=a.timeout))
        except ConnectionRefusedError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)  # the server is still starting
    payload = memoryview(bytearray(CHUNK))

    def pour(conn):
        left = share
        while left > 0:
            n = min(CHUNK, left)
            conn.sendall(payload[:n])
            left -= n
        conn.recv(1)

    threads = [threading.Thread(target=pour, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    args = parse_args()
    server(args) if args.role == "server" else client(args)
