"""Runs the Slurm job array of docs/datasets.md on a real single-node Slurm.

The test starts its own munged, slurmctld and slurmd from a configuration it
writes into a temporary folder (never a system-wide one), and stops them by
their pids at the end, also when a check fails or the test gets SIGTERM. The
sbatch script is generated from the docs' code block; only the paths, the
model and the GPU lines are substituted, so the docs cannot drift from what
is tested. What each run must show is checked against the image files on
disk and Slurm's own account of the tasks (scontrol), not against guidedbp's
output:

  array      4 tasks over 320 Fashion-MNIST images cover every image exactly
             once, each its shard of the docs' run order, one manifest each
  uneven     lists with gaps (--array=1,2,9, and 1,5,9: Slurm gives a list
             STEP 1) are refused by every task, nothing written; the range
             --array=1-9:4 works
  cancel     scancel of one running task (SIGTERM) leaves no temporary file
             and a consistent manifest; a resubmission with --skip-existing
             does exactly the rest
  timelimit  a task that hits its --time limit ends the same way (submitted
             first, it runs while the others do: Slurm ends it after 60-90 s)

--array and --time are given to sbatch, whose options override the script's
#SBATCH lines, as a user's would.

Needs root (slurmd), slurm-wlm and munge (scripts/install-deps.sh) and
dataset-fashion-mnist. Exits 77 (CTest: skipped) when not root or when
GUIDEDBP_SLURM_TEST=0 (the Debian 13 stage of scripts/test-debian13.sh).

Usage: /usr/bin/python3 tests/slurm/slurm_test.py --cli build/tools/guidedbp/guidedbp
           [--area array|uneven|cancel|timelimit|all]
"""
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "fashion_mnist"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import harness  # noqa: E402
from harness import ARGS, check, write_png  # noqa: E402

SKIP = 77
IMAGES = 320  # 80 a task of 4, 160 of 2: more than a batch of the docs' 64
# CPUs the test node claims (SlurmdParameters=config_overrides): the docs ask
# for --cpus-per-task=8, and the 4 tasks of one array plus the time-limit task
# must run at once on a 2-core machine (each uses one thread:
# OMP_NUM_THREADS=1).
NODE_CPUS = 64
TIME_LIMIT_DEADLINE = 240  # s: Slurm checks limits every 30 s, then SIGTERM
# The time-limit task's images: hard links to the IMAGES, many more than
# any machine explains before Slurm's limit.
BIG_COPIES = 40
SLOW_LAYERS = 48  # about 75 ms an image on one core of a 2-core machine


class Fast(nn.Module):
    """N x 3 x H x W -> N x 10, any H and W: a stand-in for resnet18."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 8, stride=8)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.conv(x)), 1).flatten(1))


class Slow(nn.Module):
    """Like Fast, slow on purpose: a batch of 64 takes seconds (so a signal
    lands inside one), well under Slurm's KillWait of 30 s."""

    def __init__(self, layers=SLOW_LAYERS):
        super().__init__()
        body = [nn.Conv2d(3, 16, 4, stride=4), nn.ReLU()]
        for _ in range(layers):
            body += [nn.Conv2d(16, 16, 3, padding=1), nn.ReLU()]
            nn.init.kaiming_normal_(body[-2].weight)  # no vanishing map
        self.body = nn.Sequential(*body)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).mean((2, 3)))


# ------------------------------------------------------------ the cluster
class Cluster:
    """munged, slurmctld and slurmd in the foreground, as children of this
    process, configured in their own temporary folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="guidedbp_slurm_")
        self.daemons = []  # (name, Popen), in start order
        self.env = None

    def start(self):
        d = self.dir
        # A child subreaper: the slurmstepd processes that slurmd starts (it
        # forks twice) and the jobs become this process's descendants, so
        # stop() finds every one of them by pid.
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(36, 1) != 0:  # PR_SET_CHILD_SUBREAPER
            raise AssertionError(f"prctl(PR_SET_CHILD_SUBREAPER): errno {ctypes.get_errno()}")
        for sub in ("state", "spool"):
            os.makedirs(os.path.join(d, sub))
        key = os.path.join(d, "munge.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(1024))
        sock = os.path.join(d, "munge.socket")
        self._spawn("munged", ["munged", "--foreground", "--force", f"--key-file={key}",
                               f"--socket={sock}", f"--pid-file={d}/munged.pid",
                               f"--log-file={d}/munged.log", f"--seed-file={d}/munged.seed"])
        wait_for(lambda: os.path.exists(sock), 20, "munged's socket", self)
        host = socket.gethostname().split(".")[0]
        memory = int(open("/proc/meminfo").read().split()[1]) // 1024
        ctld_port, slurmd_port = free_ports(2)
        conf = os.path.join(d, "slurm.conf")
        with open(conf, "w") as f:
            f.write(f"""# Written by tests/slurm/slurm_test.py: one node, root, no accounting.
ClusterName=guidedbptest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
KillWait=30
MinJobAge=600
NodeName={host} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory={memory} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        self.env = dict(os.environ, SLURM_CONF=conf, OMP_NUM_THREADS="1",
                        PATH=os.path.dirname(os.path.abspath(ARGS.cli)) + os.pathsep +
                        os.environ.get("PATH", "/usr/bin:/bin"))
        for name in list(self.env):
            if name.startswith(("SLURM_", "SBATCH_", "SRUN_")) and name != "SLURM_CONF":
                del self.env[name]
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", conf])
        self._spawn("slurmd", ["slurmd", "-D", "-f", conf])
        wait_for(lambda: self.slurm("sinfo", "-h", "-o", "%T").stdout.strip() == "idle",
                 60, "the node to be idle (sinfo)", self)

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, f"{name}.out"), "w")
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        # PR_SET_PDEATHSIG: should this process be killed outright, the
        # daemons get SIGTERM instead of living on.
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: libc.prctl(1, signal.SIGTERM))
        self.daemons.append((name, proc))
        time.sleep(0.2)
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}: {self.logs()}")

    def slurm(self, *argv, check=True):
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr}")
        return proc

    def logs(self):
        text = ""
        for name in ("munged.out", "slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                text += f"\n--- {name} (end)\n" + "".join(open(p).readlines()[-15:])
        return text

    def stop(self):
        """Cancels every job and waits for its processes to end, then stops
        the daemons by pid, newest first; kills any descendant left."""
        daemons = {p.pid for _, p in self.daemons}
        if self.env is not None and any(p.poll() is None for _, p in self.daemons):
            self.slurm("scancel", "--full", "--user=root", check=False)
            try:
                wait_for(lambda: not self.slurm("squeue", "-h", check=False).stdout.strip()
                         and not [p for p, parent in descendants().items()
                                  if p not in daemons and parent not in daemons],
                         40, "the cancelled jobs' processes to end", None)
            except AssertionError as e:
                print(f"slurm_test: {e}", flush=True)
        for name, proc in reversed(self.daemons):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.daemons = []
        deadline = time.time() + 20
        while descendants() and time.time() < deadline:
            time.sleep(0.25)
        for pid in descendants():
            print(f"slurm_test: killing leftover process {pid}", flush=True)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def descendants():
    """{pid: parent pid} of this process's living descendants (reaping the
    dead ones, which a subreaper inherits)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parent[int(entry)] = int(fields[1])
    me, found = os.getpid(), {}
    for pid in parent:
        p, hops = parent[pid], 0
        while p in parent and p != me and hops < 100:
            p, hops = parent[p], hops + 1
        if p == me:
            found[pid] = parent[pid]
    return found


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_for(condition, seconds, what, cluster):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if condition():
                return
        except AssertionError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}"
                         + (cluster.logs() if cluster else ""))


CLUSTER = None


# ----------------------------------------------------- the docs' script
def docs_script(model, images, out):
    """docs/datasets.md's sbatch script, with the paths, the model and the
    GPU lines substituted; each substitution must match, so a change of the
    docs' script fails here until the test follows it."""
    text = open(os.path.join(ARGS.source_dir, "docs", "datasets.md")).read()
    match = re.search(r"\n### Slurm\n[^#]*?```sh\n(.*?)\n```\n", text, re.S)
    assert match, "docs/datasets.md has no ```sh block in its section '### Slurm'"
    script = match.group(1) + "\n"
    substitutions = [
        # No GPU here: no --gres (Slurm would refuse the job), CPU device.
        (r"(?m)^#SBATCH --gres=gpu:1 .*\n", ""),
        (r"--device cuda", "--device cpu"),
        (r"--model resnet18\.pt", f"--model {model}"),
        (r"/scratch/\$USER/maps", out),
        (r"/datasets/imagenet/val", images),
    ]
    for pattern, replacement in substitutions:
        script, n = re.subn(pattern, lambda _: replacement, script)
        assert n >= 1, (f"docs/datasets.md's Slurm script no longer has {pattern!r}: "
                        f"update docs_script() in tests/slurm/slurm_test.py")
    assert script.startswith("#!/bin/bash\n") and "\nexec guidedbp explain " in script, script
    return script


class Job:
    def __init__(self, name, model, images, out, *sbatch_args):
        self.folder = harness.path(name)
        os.makedirs(os.path.join(self.folder, "logs"), exist_ok=True)
        self.out = out
        script = os.path.join(self.folder, "explain.sh")
        with open(script, "w") as f:
            f.write(docs_script(model, images, out))
        proc = subprocess.run(["sbatch", "--parsable", *sbatch_args, script],
                              capture_output=True, text=True, env=CLUSTER.env,
                              cwd=self.folder, timeout=60)
        assert proc.returncode == 0, f"sbatch {sbatch_args}: {proc.stderr}"
        self.id = proc.stdout.strip().split(";")[0]

    def wait(self, seconds=180):
        wait_for(lambda: not CLUSTER.slurm("squeue", "-h", "-j", self.id, check=False)
                 .stdout.strip(), seconds, f"job {self.id} to end", CLUSTER)
        return self.tasks()

    def tasks(self):
        """{array task id: (JobState, ExitCode)} as Slurm tells it."""
        text = CLUSTER.slurm("scontrol", "-o", "show", "job", self.id).stdout
        tasks = {}
        for line in text.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            # Pending tasks share one line: ArrayTaskId=2-3 (or 1,5 or 0-3%4).
            for part in fields["ArrayTaskId"].split("%")[0].split(","):
                first, _, last = part.partition("-")
                for task in range(int(first), int(last or first) + 1):
                    tasks[task] = (fields["JobState"], fields["ExitCode"])
        return tasks

    def log(self, task):
        return open(os.path.join(self.folder, "logs", f"explain-{self.id}_{task}.log")).read()

    def tail(self, task):
        """The end of a task's log, for failure messages."""
        return f"\n--- task {task}'s log (end)\n" + "\n".join(self.log(task).splitlines()[-12:])


# ------------------------------------------------------------- facts
def write_images(folder, count, start=0):
    """Fashion-MNIST test images (dataset-fashion-mnist) as RGB PNGs in one
    folder per class, the layout of an ImageNet validation folder (a gray
    image would get a warning per image); returns their paths."""
    from fashion_data import CLASSES, DEFAULT_DATA_DIR, load_split
    images, labels = load_split(DEFAULT_DATA_DIR, "t10k")
    paths = []
    for i in range(start, start + count):
        name = CLASSES[labels[i]].lower().replace("/", "_").replace(" ", "_")
        p = os.path.join(folder, name, f"{i:05d}.png")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        paths.append(write_png(p, np.stack([images[i]] * 3, axis=-1)))
    return paths


def on_disk(folder):
    """Every image file below folder, in the docs' run order (byte-wise by
    the path inside the folder)."""
    found = []
    for root, _, files in os.walk(folder):
        found += [os.path.join(root, f) for f in files if f.endswith(".png")]
    return sorted(found, key=lambda p: os.path.relpath(p, folder).encode())


def records(manifest):
    if not os.path.exists(manifest):
        return []
    return [json.loads(line) for line in open(manifest).read().splitlines()]


def outputs_on_disk(out):
    files = set()
    for root, _, names in os.walk(out):
        files |= {os.path.join(root, n) for n in names if not n.startswith("manifest-")}
    return files


def check_consistent(out, manifests):
    """No temporary file; every image file written has exactly one ok record
    and every record's outputs exist. Returns {input: count of records}."""
    written = outputs_on_disk(out)
    temps = [p for p in written if ".tmp-" in os.path.basename(p)]
    assert not temps, f"temporary files left: {temps}"
    counts, claimed = {}, set()
    for manifest in manifests:
        for r in records(manifest):
            assert r["status"] == "ok", r
            assert len(r["outputs"]) == 1, r
            counts[r["input"]] = counts.get(r["input"], 0) + 1
            claimed |= set(r["outputs"])
    assert claimed == written, (f"files without a record: {sorted(written - claimed)[:5]}, "
                                f"records without a file: {sorted(claimed - written)[:5]}")
    return counts


def make_model(cls, name):
    torch.manual_seed(0)
    model = cls().eval()
    p = harness.path(name)
    torch.jit.script(model).save(p)
    return p


# ------------------------------------------------------------- areas
def setup():
    global CLUSTER
    start = time.time()
    if shutil.which("slurmctld") is None or shutil.which("munged") is None:
        raise AssertionError("slurmctld or munged missing: run scripts/install-deps.sh")
    CLUSTER = Cluster()
    CLUSTER.start()
    data = harness.path("val")
    paths = write_images(data, IMAGES)
    context = {"data": data, "paths": paths, "fast": make_model(Fast, "fast.pt"),
               "slow": make_model(Slow, "slow.pt")}
    if ARGS.area in ("timelimit", "all"):
        # Submitted first: it runs for a minute or more whatever the
        # machine, so the other areas run meanwhile.
        big = harness.path("val_big")
        for i, p in enumerate(paths * BIG_COPIES):
            q = os.path.join(big, f"copy{i // IMAGES}", os.path.relpath(p, data))
            os.makedirs(os.path.dirname(q), exist_ok=True)
            os.link(p, q)
        out = harness.path("maps_timelimit")
        context["timelimit"] = (big, out, Job("timelimit", context["slow"], big, out,
                                              "--array=0", "--time=1"))
    print(f"slurm_test: Slurm started, images made in {time.time() - start:.0f} s", flush=True)
    return context


def area_array(ctx):
    def run():
        out = harness.path("maps_array")
        job = Job("array", ctx["fast"], ctx["data"], out, "--array=0-3")
        tasks = job.wait()
        assert tasks == {t: ("COMPLETED", "0:0") for t in range(4)}, tasks
        expected = on_disk(ctx["data"])
        assert sorted(expected) == sorted(ctx["paths"]) and len(expected) == IMAGES
        manifests = sorted(glob.glob(os.path.join(out, "manifest-*.jsonl")))
        assert manifests == [os.path.join(out, f"manifest-{t}.jsonl") for t in range(4)], \
            manifests
        counts = check_consistent(out, manifests)
        assert counts == {p: 1 for p in expected}, \
            f"{len(counts)} images explained, {IMAGES} on disk"
        for t in range(4):  # task t did shard t/4 of the run's order
            assert [r["input"] for r in records(manifests[t])] == expected[t::4], t
        assert len(outputs_on_disk(out)) == IMAGES
    check(f"array: 4 tasks of the docs' script cover {IMAGES} images exactly once", run)


def area_uneven(ctx):
    small = harness.path("val_small")
    for p in ctx["paths"][:12]:
        q = os.path.join(small, os.path.relpath(p, ctx["data"]))
        os.makedirs(os.path.dirname(q), exist_ok=True)
        os.link(p, q)

    def refused(name, array, ids):
        out = harness.path(f"maps_{name}")
        job = Job(name, ctx["fast"], small, out, f"--array={array}")
        tasks = job.wait()
        assert tasks == {t: ("FAILED", "1:0") for t in ids}, tasks
        for t in ids:
            errors = [line for line in job.log(t).splitlines() if line.startswith("guidedbp:")]
            assert len(errors) == 1 and "do not step evenly" in errors[0] and \
                "--array=0-2" in errors[0], job.tail(t)
        assert not os.path.exists(out) or not outputs_on_disk(out), outputs_on_disk(out)
        assert all(not records(m) for m in glob.glob(os.path.join(out, "manifest-*")))

    def range_with_step():
        out = harness.path("maps_step")
        job = Job("step", ctx["fast"], small, out, "--array=1-9:4")
        tasks = job.wait()
        assert tasks == {t: ("COMPLETED", "0:0") for t in (1, 5, 9)}, tasks
        manifests = [os.path.join(out, f"manifest-{t}.jsonl") for t in (1, 5, 9)]
        counts = check_consistent(out, manifests)
        assert counts == {p: 1 for p in on_disk(small)}, counts
    check("uneven: --array=1,2,9 is refused by every task, nothing written",
          lambda: refused("uneven", "1,2,9", (1, 2, 9)))
    check("uneven: a list --array=1,5,9 (Slurm: STEP 1) is refused by every task",
          lambda: refused("list", "1,5,9", (1, 5, 9)))
    check("uneven: the range --array=1-9:4 covers every image once", range_with_step)


def area_cancel(ctx):
    def run():
        # 2 tasks of 160 images: batches of 64, 64 and 32. Cancelled once its
        # first maps are written (the second batch runs), task 1 finishes
        # that batch and leaves the third.
        out = harness.path("maps_cancel")
        expected = on_disk(ctx["data"])
        mine = expected[1::2]
        first_maps = [os.path.join(out, os.path.relpath(p, ctx["data"])[:-4] + "_class*.png")
                      for p in mine]  # a map's name: the image's stem, _classC.png
        job = Job("cancel", ctx["slow"], ctx["data"], out, "--array=0-1")
        wait_for(lambda: any(glob.glob(g) for g in first_maps), 120,
                 "task 1's first maps", CLUSTER)
        CLUSTER.slurm("scancel", f"{job.id}_1")
        tasks = job.wait()
        assert tasks == {0: ("COMPLETED", "0:0"), 1: ("CANCELLED", "0:15")} or \
            (tasks[0] == ("COMPLETED", "0:0") and tasks[1][0] == "CANCELLED"), tasks
        assert "interrupted by SIGTERM" in job.log(1), job.tail(1)
        manifests = [os.path.join(out, f"manifest-{t}.jsonl") for t in range(2)]
        check_consistent(out, manifests)
        done = [r["input"] for r in records(manifests[1])]
        assert 0 < len(done) < len(mine), f"task 1 did {len(done)} of {len(mine)} images"
        assert done == mine[:len(done)], "task 1 did other images than its first ones"
        before = [len(records(m)) for m in manifests]
        # The same script again: --skip-existing does exactly the rest.
        again = Job("cancel_again", ctx["slow"], ctx["data"], out, "--array=0-1")
        tasks = again.wait()
        assert tasks == {t: ("COMPLETED", "0:0") for t in range(2)}, tasks
        after = [records(m) for m in manifests]
        assert len(after[0]) == before[0], (before, [len(a) for a in after])
        rest = [r["input"] for r in after[1][before[1]:]]
        assert rest == mine[len(done):], f"redid {len(rest)}, left {len(mine) - len(done)}"
        counts = check_consistent(out, manifests)
        assert counts == {p: 1 for p in expected}
    check("cancel: scancel of a running task, then --skip-existing does exactly the rest", run)


def area_timelimit(ctx):
    def run():
        big, out, job = ctx["timelimit"]
        tasks = job.wait(TIME_LIMIT_DEADLINE)
        assert tasks == {0: ("TIMEOUT", "0:15")} or tasks[0][0] == "TIMEOUT", tasks
        log = job.log(0)
        assert "DUE TO TIME LIMIT" in log and "interrupted by SIGTERM" in log, job.tail(0)
        manifest = os.path.join(out, "manifest-0.jsonl")
        counts = check_consistent(out, [manifest])
        expected = on_disk(big)
        assert 0 < len(counts) < len(expected), len(counts)
        assert [r["input"] for r in records(manifest)] == expected[:len(counts)]
    check("timelimit: a task past its --time ends by SIGTERM, consistent, no temporary file",
          run)


def timed(area):
    def run(ctx):
        start = time.time()
        area(ctx)
        print(f"slurm_test: {area.__name__[5:]} took {time.time() - start:.0f} s", flush=True)
    return run


AREAS = {"array": timed(area_array), "uneven": timed(area_uneven),
         "cancel": timed(area_cancel), "timelimit": timed(area_timelimit)}


def main():
    if os.geteuid() != 0 or os.environ.get("GUIDEDBP_SLURM_TEST") == "0":
        why = "not root" if os.geteuid() != 0 else "GUIDEDBP_SLURM_TEST=0"
        print(f"slurm_test: skipped ({why}): slurmd needs root", flush=True)
        return SKIP
    # SIGTERM (ctest's timeout) unwinds like an exception, so the daemons stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return harness.main(__doc__, AREAS, setup=setup, prefix="guidedbp_slurm_test_")
    finally:
        if CLUSTER is not None:
            CLUSTER.stop()


if __name__ == "__main__":
    sys.exit(main())
