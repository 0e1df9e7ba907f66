#!/usr/bin/env python3
"""The fault-injection suite: runs every case of cases.py through cohortrun (or torchrun-style
variables), checks what each rank and the launcher said and what was left behind, and writes the
table of tests/faults/README.md.

A case passes when every rank that should notice raised an error that names the failed rank and
the operation within COHORT_TIMEOUT plus the case's margin of the fault, the job ended with a
non-zero status (and cohortrun's last line names a rank), and no process, /dev/shm segment,
socket or temporary file of the job is left.

  run_faults.py --build BUILD [--out FILE] [--only REGEX] [--timeout S] [--list]
Exit status: 0 when every case passed (cases that cannot run here are skipped with the reason).
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cases import ALL_CASES  # noqa: E402
from leftovers import Leftovers  # noqa: E402

ERROR = re.compile(r"^(?:\[(\d+)\] )?fault_case: rank (\d+) error at ([\d.]+) after [\d.]+ s: (.*)$")
FAULT = re.compile(r"^(?:\[\d+\] )?fault_case: rank (\d+) fault \S+ at ([\d.]+)$")
CONTINUATION = re.compile(r"^(?:\[(\d+)\] )?  (\S.*)$")  # "[r]   cause: ..." under an error
LOADS = re.compile(r"fault_case: rank (\d+) earlier checkpoint (loads intact|CORRUPT)")
TWO_HOSTS = re.compile(r"^two_hosts_job: link (\S+) namespaces (\S+) (\S+)$")


def parse_output(text):
    """Errors by rank (message with its continuation lines), the fault time, load checks."""
    errors, fault_at, loads, last = {}, None, {}, None
    for line in text.splitlines():
        if m := FAULT.match(line):
            fault_at = float(m.group(2))
        elif m := ERROR.match(line):
            rank = int(m.group(2))
            errors[rank] = {"at": float(m.group(3)), "message": m.group(4)}
            last = rank
        elif (m := CONTINUATION.match(line)) and last is not None and \
                (m.group(1) is None or int(m.group(1)) == last):
            errors[last]["message"] += " / " + m.group(2)
        else:
            last = None
        if m := LOADS.search(line):
            loads[int(m.group(1))] = m.group(2)
    return errors, fault_at, loads


def names(message, ranks):
    return any(re.search(rf"\b(rank|server|worker) {r}\b", message) for r in ranks)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runner:
    def __init__(self, args):
        self.build = Path(args.build).resolve()
        self.cohortrun = self.build / "launcher" / "cohortrun"
        self.program = self.build / "tests" / "faults" / "fault_case"
        self.timeout = args.timeout
        self.is_root = os.geteuid() == 0
        self.killed_at = None
        self.namespaces = []

    def skip_reason(self, case):
        if case.transport == "ucx" and not list(self.build.glob("libcohort_ucx*.so*")):
            return "cohort was built without UCX"
        if case.fault == "full-disk" and (not self.is_root or shutil.which("unshare") is None):
            return "a small tmpfs needs root and unshare(1)"
        if case.launch == "netns" and (not self.is_root or shutil.which("ip") is None):
            return "network namespaces need root and ip(8)"
        return None

    def env(self, case, tmp):
        env = dict(os.environ, TMPDIR=tmp, COHORT_TIMEOUT=str(self.timeout))
        if case.transport != "auto":
            env["COHORT_TRANSPORT"] = case.transport
        if case.detail:
            env["COHORT_DEBUG"] = "DETAIL"
        return env

    def fault_args(self, case, ckpt):
        args = [str(self.program), "--op", case.op, "--fault", case.fault, "--mib", str(case.mib)]
        if case.victim is not None:
            args += ["--victim", str(case.victim)]
        return args + (["--dir", ckpt] if ckpt else [])

    def launch(self, case, env, ckpt):
        """Starts the job; returns (process, how to wait for it)."""
        args = self.fault_args(case, ckpt)
        if case.launch == "env":  # torchrun-style variables; rank 0 holds the store
            port, secret = str(free_port()), os.urandom(16).hex()
            procs = []
            for r in range(case.np):
                renv = dict(env, RANK=str(r), WORLD_SIZE=str(case.np), LOCAL_RANK=str(r),
                            LOCAL_WORLD_SIZE=str(case.np), MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                            COHORT_JOB_SECRET=secret)
                procs.append(subprocess.Popen(args, env=renv, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True))
            return procs
        run = [str(self.cohortrun)] + (["-np", str(case.np)] if case.launch != "netns" else []) \
            + ["--timeout", "120", "--grace", "3"]
        for key in ("COHORT_TIMEOUT", "COHORT_TRANSPORT", "COHORT_DEBUG"):
            if key in env:
                run += ["-x", f"{key}={env[key]}"]
        command = run + args
        if case.fault == "full-disk":  # a tmpfs with room for one checkpoint, in its own namespace
            command = ["unshare", "-m", "sh", "-c",
                       f'mount -t tmpfs -o size={case.disk_kib}k cohort-fault "$1" && shift && exec "$@"',
                       "sh", os.path.dirname(ckpt)] + command
        if case.launch == "netns":
            command = ["bash", str(Path(__file__).resolve().parent / "two_hosts_job.sh")] + command
        return [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, start_new_session=True)]

    def run_case(self, case):
        tmp = tempfile.mkdtemp(prefix="cohort-fault-")
        ckpt = os.path.join(tempfile.mkdtemp(prefix="cohort-fault-disk-"), "ckpt") \
            if case.fault == "full-disk" else None
        self.killed_at, self.namespaces = None, []
        before = Leftovers.snapshot()
        started = time.time()
        procs = self.launch(case, self.env(case, tmp), ckpt)
        outputs, statuses = self.wait(case, procs)
        text = "\n".join(outputs)
        result = self.judge(case, text, statuses, started)
        result["leftovers"] = Leftovers.since(before, tmp, self.program.name, self.namespaces)
        if m := re.search(r"^two_hosts_job: left in the namespaces: (.*)$", text, re.M):
            result["leftovers"] = m.group(1) if result["leftovers"] == "none" \
                else result["leftovers"] + ", " + m.group(1)
        if result["leftovers"] != "none":
            result["problems"].append("left behind: " + result["leftovers"])
        shutil.rmtree(tmp, ignore_errors=True)
        if ckpt:
            os.rmdir(os.path.dirname(ckpt))  # the tmpfs went with its namespace
        result["output"] = text
        return result

    def wait(self, case, procs):
        limit = time.time() + self.timeout + case.margin + 60
        prefix = ""
        if case.fault == "launcher-killed":
            prefix = self.act_when_ready(procs[0], limit, lambda link: procs[0].kill())
        elif case.fault == "link-down":
            prefix = self.act_when_ready(procs[0], limit, lambda link: subprocess.run(
                ["ip", "link", "set", link, "down"], check=True))
        outputs, statuses = [prefix], []
        for p in procs:
            try:
                out, _ = p.communicate(timeout=max(1.0, limit - time.time()))
            except subprocess.TimeoutExpired:
                if case.launch == "env":
                    p.kill()
                else:
                    os.killpg(p.pid, 9)  # cohortrun and everything it started
                out, _ = p.communicate()
                out += "\nrun_faults: the job did not end in time; killed it"
            outputs.append(out)
            statuses.append(p.returncode)
        return outputs, statuses

    def act_when_ready(self, proc, limit, action):
        """Once the victim announces its fault, runs `action` (given the second host's link):
        SIGKILL cohortrun (and with it the job's store), or take the link down."""
        seen, link = [], None
        while time.time() < limit:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if m := TWO_HOSTS.match(line.rstrip("\n")):
                link, self.namespaces = m.group(1), [m.group(2), m.group(3)]
            if FAULT.match(line.rstrip("\n")):
                action(link)
                self.killed_at = time.time()
                break
        return "".join(seen)

    def judge(self, case, text, statuses, started):
        errors, fault_at, loads = parse_output(text)
        problems = []
        victim = case.victim if case.victim is not None else case.np - 1
        if case.fault == "launcher-killed":
            return self.judge_launcher_killed(case, text, started)
        expect = case.observers(victim)
        if fault_at is None:
            problems.append("the victim never reached its fault")
            fault_at = started
        deadline = self.timeout + case.margin
        times, named = [], 0
        for r in expect:
            e = errors.get(r)
            if e is None:
                problems.append(f"rank {r} raised no error")
                continue
            took = e["at"] - fault_at
            times.append(took)
            ok_name = case.fault == "full-disk" or names(e["message"], case.culprits(victim))
            ok_op = any(word in e["message"] for word in case.op_words)
            named += ok_name and ok_op
            if took > deadline:
                problems.append(f"rank {r} took {took:.2f} s (> {deadline:.0f} s)")
            if not ok_name:
                problems.append(f"rank {r}'s error does not name rank "
                                + " or ".join(map(str, case.culprits(victim))))
            if not ok_op:
                problems.append(f"rank {r}'s error does not name the operation ({case.op})")
        if case.fault == "full-disk":
            bad = [r for r in range(case.np) if loads.get(r) != "loads intact"]
            if bad:
                problems.append(f"the earlier checkpoint did not load intact on ranks {bad}")
        if all(s == 0 for s in statuses):
            problems.append("the job exited 0")
        launcher = ""
        if case.launch != "env":
            lines = [l for l in text.splitlines() if l.startswith("cohortrun: ")]
            launcher = lines[-1][len("cohortrun: "):] if lines else ""
            if not re.search(r"\brank \d+\b", launcher):
                problems.append("cohortrun's last message names no rank: " + (launcher or "(none)"))
            elif case.fault.startswith("kill") and not names(launcher, (victim,)):
                problems.append(f"cohortrun's message does not name rank {victim}")
        return {"case": case, "detect": max(times) if times else None,
                "named": f"{named}/{len(expect)}", "launcher": launcher,
                "status": ",".join(str(s) for s in statuses), "problems": problems}

    def judge_launcher_killed(self, case, text, started):
        """cohortrun (holding the store) was SIGKILLed: every rank must be gone promptly."""
        problems = []
        killed_at = self.killed_at
        if killed_at is None:
            problems.append("the ranks never started calling")
            killed_at = started
        gone_at = None
        while time.time() < killed_at + self.timeout + case.margin:
            if not Leftovers.processes(self.program.name):
                gone_at = time.time()
                break
            time.sleep(0.05)
        if gone_at is None:
            problems.append("ranks still running after the launcher died")
        return {"case": case, "detect": (gone_at - killed_at) if gone_at else None,
                "named": "-", "launcher": "(killed)", "status": "-9", "problems": problems}


def write_table(results, path, command, timeout):
    host = os.uname()
    lines = [
        "# Fault-injection suite",
        "",
        "Made by `tests/faults/run_faults.py` (ctest `faults_suite` runs it on every CI run and",
        "writes the same table into the build directory). Regenerate this file with:",
        "",
        f"    {command}",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {host.nodename} "
        f"({os.cpu_count()} cores), 4 ranks, COHORT_TIMEOUT={timeout} s.",
        "",
        "A case passes when every rank that should notice raised an error naming the failed rank",
        "and the operation within COHORT_TIMEOUT plus the margin, the job ended non-zero with",
        "cohortrun's last line naming a rank, and nothing was left behind (processes, /dev/shm",
        "segments, sockets of the job, files in its TMPDIR). Detection is the slowest rank's time",
        "from the fault (the victim's announced time, or the launcher's death) to its error.",
        "",
        "| case | transport | op | fault | detection (s) | margin (s) | ranks naming it | "
        "cohortrun said | left behind | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c = r["case"]
        if "skipped" in r:
            lines.append(f"| {c.name} | {c.transport} | {c.op} | {c.fault} | - | - | - | - | - | "
                         f"skipped: {r['skipped']} |")
            continue
        detect = f"{r['detect']:.2f}" if r["detect"] is not None else "-"
        said = r["launcher"].replace("|", "/")
        if "; the first error reported: " in said:  # the part worth reading is the first error
            head, first = said.split("; the first error reported: ", 1)
            said = head.split(";")[0] + "; first error: " + first[:110] + "..."
        said = said[:170]
        verdict = "pass" if not r["problems"] else "FAIL: " + "; ".join(r["problems"])[:200]
        lines.append(f"| {c.name} | {c.transport} | {c.op} | {c.fault} | {detect} | "
                     f"{timeout}+{c.margin} | {r['named']} | {said} | {r['leftovers']} | {verdict} |")
    Path(path).write_text("\n".join(lines) + "\n\n" + NOTES)


NOTES = """## What the cases are

- **kill-before / kill-during / kill-after**: the victim (the last rank) SIGKILLs itself before
  its call, 50 ms into a loop of calls, or right after a call that completed everywhere.
- **stop**: the victim SIGSTOPs itself; it is alive to the launcher, so only COHORT_TIMEOUT can
  catch it. cohortrun then sends SIGTERM and SIGCONT, so the stopped rank ends at once.
- **mismatch-***: the victim calls another collective, count, dtype or root. With
  `COHORT_DEBUG=DETAIL` every call's fingerprint is compared first; without it, the ranks find
  out from the messages themselves (sizes, tags) or at the timeout.
- **push / pull**: the parameter store with a server slice in every rank; a server that stops
  answering is given COHORT_TIMEOUT + 10 s (a server may be busy applying a large update).
- **launcher-killed**: cohortrun, which holds the job's store, is SIGKILLed while every rank
  allreduces: the ranks must all be gone within the timeout (they die with their parent).
- **store-host-killed**: no cohortrun; torchrun-style variables, rank 0 holds the store and is
  killed mid-allreduce.
- **full-disk**: a checkpoint that fits is saved, then a second one into a tmpfs without room
  for it: every rank's save fails naming the file and ENOSPC, no temporary file is left, and the
  first checkpoint still loads with its values on every rank.
- **link-down**: ranks 0-1 and 2-3 run in two network namespaces joined by a bridge
  (`two_hosts_job.sh`, cohortrun with `--rsh 'ip netns exec'`); when the victim announces its
  loop of allreduces, the bridge side of the second namespace's veth is taken down. Every rank
  must fail naming a rank of the other host; the namespaces must be gone afterwards.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--out", default=None, help="the markdown table (default: print only)")
    parser.add_argument("--only", default=None, help="regex over case names")
    parser.add_argument("--timeout", type=int, default=5, help="COHORT_TIMEOUT for every case")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    cases = [c for c in ALL_CASES if not args.only or re.search(args.only, c.name)]
    if args.list:
        print("\n".join(c.name for c in cases))
        return 0
    runner = Runner(args)
    results, failed = [], 0
    for case in cases:
        reason = runner.skip_reason(case)
        if reason:
            print(f"run_faults: {case.name}: SKIP ({reason})", flush=True)
            results.append({"case": case, "skipped": reason})
            continue
        r = runner.run_case(case)
        results.append(r)
        detect = f"{r['detect']:.2f} s" if r["detect"] is not None else "-"
        if r["problems"]:
            failed += 1
            print(f"run_faults: {case.name}: FAIL ({detect}): " + "; ".join(r["problems"]), flush=True)
            print(r["output"], flush=True)
        else:
            print(f"run_faults: {case.name}: pass, detected in {detect}, named by {r['named']}", flush=True)
    if args.out:
        command = "/usr/bin/python3 tests/faults/run_faults.py --build build --out tests/faults/README.md"
        write_table(results, args.out, command, args.timeout)
    ran = sum(1 for r in results if "skipped" not in r)
    print(f"run_faults: {ran - failed} of {ran} cases passed, {len(results) - ran} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
