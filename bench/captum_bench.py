#!/usr/bin/env python3
"""Times Captum's GuidedBackprop and Python eager plain input gradients on the
benchmark models, with the method of guidedbp_bench (interleaved rounds after
warm-up, medians, wall and process CPU time, peak resident memory growth).

    PYTHONPATH=$CAPTUM_PATH /usr/bin/python3 bench/captum_bench.py \
        --fashion examples/fashion_mnist/model.pt --out captum.json [--quick] ...

Captum runs eager torchvision / nn.Module models (its hooks sit on nn.ReLU
modules and cannot reach TorchScript), built with the same seeds and so the
same weights as the scripted models of make_models.py; the Fashion-MNIST model
is the eager FashionCNN of examples/fashion_mnist/train.py loaded with the
shipped model's weights. Inputs are the same as guidedbp_bench's
(torch.manual_seed(0); torch.rand).
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import time
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_models  # noqa: E402

SHAPES = {
    "tiny_cnn": (3, 32, 32),
    "fashion_mnist": (1, 28, 28),
    "resnet18": (3, 224, 224),
    "vgg11": (3, 224, 224),
}

# ---- peak memory: the method of guidedbp_bench.cpp (see there)
_libc = ctypes.CDLL("libc.so.6")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def malloc_for_timing():
    _libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)
    _libc.mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024)


def malloc_for_memory():
    _libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024)
    _libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
    _libc.malloc_trim(0)


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def peak_growth_mb(call):
    _libc.malloc_trim(0)
    before = status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    call()
    return (status_kb("VmHWM") - before) / 1024.0


def quantile(v, q):
    v = sorted(v)
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])


def load_model(name, fashion_path):
    if name == "fashion_mnist":
        # Its eager definition (only 1 of its 3 ReLUs is a module: Captum overrides that one).
        sys.path.insert(0, os.path.dirname(os.path.abspath(fashion_path)))
        from train import FashionCNN

        model = FashionCNN(mean=0.0, std=1.0)  # both buffers are overwritten below
        model.load_state_dict(torch.jit.load(fashion_path).state_dict())
    else:
        model = make_models.build(name)
    return model.eval()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fashion", default=os.path.join(HERE, "..", "examples", "fashion_mnist", "model.pt"))
    p.add_argument("--out", default="captum_bench.json")
    p.add_argument("--models", default="tiny_cnn,fashion_mnist,resnet18,vgg11")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--target", type=int, default=3)
    p.add_argument("--budget", type=float, default=20.0)
    p.add_argument("--min-rounds", type=int, default=5)
    p.add_argument("--max-rounds", type=int, default=31)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--memory-reps", type=int, default=3)
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.quick:
        a.models = "tiny_cnn,fashion_mnist,resnet18" if a.models == p.get_default("models") else a.models
        a.budget, a.min_rounds, a.max_rounds, a.warmup, a.memory_reps = 4.0, 3, 9, 2, 1

    malloc_for_timing()
    warnings.filterwarnings("ignore")  # Captum warns on every call that it sets hooks
    from captum.attr import GuidedBackprop
    import captum

    start = time.perf_counter()
    records = []
    for name in a.models.split(","):
        model = load_model(name, a.fashion)
        gbp = GuidedBackprop(model)
        for batch in [int(b) for b in a.batches.split(",")]:
            torch.manual_seed(0)
            x = torch.rand((batch,) + SHAPES[name])
            t = a.target

            def forward():
                with torch.no_grad():
                    model(x)

            def plain_grad():
                xi = x.detach().clone().requires_grad_(True)
                sel = model(xi)[:, t]
                return torch.autograd.grad(sel, xi, torch.ones_like(sel))[0]

            def captum_gbp():
                return gbp.attribute(x, target=t)

            measured = [("forward", forward), ("plain_grad", plain_grad),
                        ("captum_guided_backprop", captum_gbp)]
            for threads in [int(n) for n in a.threads.split(",")]:
                torch.set_num_threads(threads)
                round_s = 0.0
                for _ in range(a.warmup):
                    round_s = 0.0
                    for _, f in measured:
                        t0 = time.perf_counter()
                        f()
                        round_s += time.perf_counter() - t0
                rounds = max(a.min_rounds, min(a.max_rounds, int(a.budget / max(round_s, 1e-6))))
                walls = [[] for _ in measured]
                cpus = [[] for _ in measured]
                for r in range(rounds):
                    for j in range(len(measured)):
                        i = (j + r) % len(measured)
                        c0, t0 = time.process_time(), time.perf_counter()
                        measured[i][1]()
                        walls[i].append((time.perf_counter() - t0) * 1e3)
                        cpus[i].append((time.process_time() - c0) * 1e3)
                for i, (what, f) in enumerate(measured):
                    rec = {
                        "model": name, "batch": batch, "threads": threads, "what": what,
                        "median_ms": statistics.median(walls[i]),
                        "p25_ms": quantile(walls[i], 0.25), "p75_ms": quantile(walls[i], 0.75),
                        "min_ms": min(walls[i]), "max_ms": max(walls[i]),
                        "cpu_median_ms": statistics.median(cpus[i]),
                        "cpu_p25_ms": quantile(cpus[i], 0.25), "cpu_p75_ms": quantile(cpus[i], 0.75),
                        "n": rounds, "peak_mb": -1,
                    }
                    if not a.no_memory:
                        malloc_for_memory()
                        rec["peak_mb"] = statistics.median(
                            [peak_growth_mb(f) for _ in range(a.memory_reps)])
                        malloc_for_timing()
                    records.append(rec)
                med = {r["what"]: r["median_ms"] for r in records[-len(measured):]}
                print(f"captum {name} batch {batch} threads {threads}: {rounds} rounds; "
                      f"plain {med['plain_grad']:.2f} ms, captum gbp "
                      f"{med['captum_guided_backprop']:.2f} ms", file=sys.stderr)

    meta = {
        "tool": "captum_bench", "torch": torch.__version__, "captum": captum.__version__,
        "python": sys.version.split()[0], "quick": a.quick, "target": a.target,
        "wall_s": time.perf_counter() - start, "loadavg_end": open("/proc/loadavg").read().split()[:3],
        "note": "eager nn.Module models (Captum cannot hook TorchScript)",
    }
    with open(a.out, "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1)
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
