"""What a finished job may have left behind: processes, /dev/shm segments, sockets, files."""
import os
import subprocess
import time
from dataclasses import dataclass


@dataclass
class Leftovers:
    shm: set

    @staticmethod
    def snapshot():
        return Leftovers({n for n in os.listdir("/dev/shm") if n.startswith("cohort-")})

    @staticmethod
    def processes(name):
        """Pids of live (not zombie) processes called `name`."""
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2]
            if comm == name[:15] and state != "Z":
                pids.append(int(pid))
        return pids

    @staticmethod
    def sockets(pids):
        """tcp sockets (not TIME_WAIT) held by `pids`, from ss(8) if it is there."""
        if not pids:
            return 0
        try:
            out = subprocess.run(["ss", "-Htanp"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return 0
        return sum(1 for line in out.splitlines() if any(f"pid={p}," in line for p in pids))

    @staticmethod
    def namespaces(names):
        """Which of the network namespaces `names` still exist."""
        if not names:
            return []
        try:
            out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        present = {line.split()[0] for line in out.splitlines() if line.strip()}
        return [n for n in names if n in present]

    @staticmethod
    def since(before, tmpdir, program, namespaces=(), wait_s=5.0):
        """'none', or what appeared since `before` (and of the job's network namespaces) and is
        still there after up to wait_s."""
        deadline = time.time() + wait_s
        while True:
            procs = Leftovers.processes(program)
            shm = Leftovers.snapshot().shm - before.shm
            files = os.listdir(tmpdir) if os.path.isdir(tmpdir) else []
            netns = Leftovers.namespaces(namespaces)
            if (not procs and not shm and not files and not netns) or time.time() >= deadline:
                break
            time.sleep(0.1)
        found = []
        if procs:
            found.append(f"{len(procs)} processes ({Leftovers.sockets(procs)} sockets)")
        if shm:
            found.append("shm " + " ".join(sorted(shm)))
        if files:
            found.append("TMPDIR " + " ".join(sorted(files)))
        if netns:
            found.append("netns " + " ".join(netns))
        return ", ".join(found) if found else "none"
