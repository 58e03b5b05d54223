#!/usr/bin/env python3
"""Dataset runs (issue 11, point 10): images/s of `guidedbp explain` over a folder
of images, next to the pure attribution throughput and a Python Captum loop.

    bench/run.sh dataset [--images 500] [--threads 1] ...        # builds, then runs this
    /usr/bin/python3 bench/dataset_bench.py --guidedbp BIN --bench BIN \
        --models-dir DIR --work DIR --results DIR [options]

In one run, on a generated folder of --images JPEG/PNG files (nested folders,
equal file names in different folders), preprocessed with
`--resize 256 --center-crop 224 --normalize imagenet`, model: resnet18 with
seeded random weights (bench/make_models.py), all with the same --threads:

  1. `guidedbp explain --model M --out-dir D --quiet DIR` with `--batch-size`
     1 and 32 (--batches): whole-process wall time, CPU time, max RSS;
  2. the same at batch 32 on the first --subset images (one subfolder): its
     max RSS next to the full run's shows whether memory grows with the dataset;
  3. the pure attribution throughput: `guidedbp_bench --only guided_backprop`,
     GuidedBackprop on a preloaded batch (no decoding, no drawing, no files);
  4. a Python loop (`--python-images` images, default 100): PIL + torchvision
     transforms, eager resnet18, a forward pass for the predicted class, Captum
     `GuidedBackprop.attribute`, `visualize_image_attr` and `Figure.savefig`
     (PNG), one image at a time. Needs $CAPTUM_PATH (a Captum checkout; it goes
     on PYTHONPATH), python3-matplotlib and python3-tqdm; skipped with a note
     otherwise.

Writes RESULTS/dataset.json (raw records and the ratios) and RESULTS/dataset.md
(the tables), and prints the tables. Options the CLI does not have yet
(`--batch-size`, `--quiet`, folder inputs) are detected from `explain --help` and
a probe run; without them the batch-32 runs are reported as not run and files
are passed one by one.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATASET_VERSION = "1"  # bump when the generated images change
PREPROCESS = ["--resize", "256", "--center-crop", "224", "--normalize", "imagenet"]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# Sizes of ImageNet validation photos (width, height), in turn.
SIZES = [(500, 375), (375, 500), (500, 333), (333, 500), (400, 300), (256, 256), (640, 480)]


# ---------------------------------------------------------------- dataset

def image_path(root, i, subset):
    """Image i: folder s{i // subset}/c{i % 4}, name repeated in every s*/ folder."""
    return os.path.join(root, f"s{i // subset}", f"c{i % 4}",
                        f"img{(i % subset) // 4:03d}" + (".png" if i % 5 == 4 else ".jpg"))


def make_image(i):
    """A photo-like RGB image from seed i: a smooth colour field (bicubic upscale
    of a coarse random grid), a few shapes, fine noise. Fast (a few ms)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(1000 + i)
    w, h = SIZES[i % len(SIZES)]
    coarse = rng.integers(0, 256, size=(rng.integers(3, 9), rng.integers(3, 9), 3), dtype=np.uint8)
    img = Image.fromarray(coarse, "RGB").resize((w, h), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(10, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(1.5))
    noise = rng.normal(0, 8, size=(h, w, 3))
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def make_dataset(root, n, subset):
    """Writes n images under root (reused when the stamp matches)."""
    stamp = os.path.join(root, ".dataset.stamp")
    want = f"{DATASET_VERSION} {n} {subset}\n"
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    for i in range(n):
        path = image_path(root, i, subset)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        img = make_image(i)
        if path.endswith(".png"):
            img.save(path, optimize=False)
        else:
            img.save(path, quality=90)
    with open(stamp, "w") as f:
        f.write(want)
    print(f"dataset: wrote {n} images to {root} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def list_images(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        out += [os.path.join(d, f) for f in sorted(files) if f.endswith((".jpg", ".png"))]
    return sorted(out)


def count_pngs(root):
    return sum(1 for d, _, fs in os.walk(root) for f in fs if f.endswith(".png"))


# ---------------------------------------------------------------- processes

def run_measured(cmd, env=None):
    """Runs cmd; returns its exit status, wall s, CPU s (user + sys) and max RSS
    MiB of that one child (os.wait4; RUSAGE_CHILDREN would keep the maximum
    over all children), and its stdout and the end of its stderr. Output goes
    through files: Popen.communicate would reap the child and lose its rusage."""
    import tempfile
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"rc": p.returncode, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
                "user_s": ru.ru_utime, "sys_s": ru.ru_stime, "max_rss_mb": ru.ru_maxrss / 1024.0,
                "stdout": out.read().decode(errors="replace"),
                "stderr_tail": err.read().decode(errors="replace")[-2000:]}


class Explain:
    """What the guidedbp binary offers (new options are detected, not assumed)."""

    def __init__(self, binary, model, threads, extra, scratch):
        self.binary, self.model, self.threads, self.extra = binary, model, threads, extra
        helptext = subprocess.run([binary, "explain", "--help"], capture_output=True,
                                  text=True).stdout
        self.has_batch = "--batch-size" in helptext
        self.has_quiet = "--quiet" in helptext
        # Folder inputs: a probe run on a folder of one image (it also loads
        # LibTorch and the model once, so the timed runs start with warm caches).
        probe = os.path.join(scratch, "probe")
        shutil.rmtree(probe, ignore_errors=True)
        os.makedirs(os.path.join(probe, "in", "sub"))
        make_image(0).save(os.path.join(probe, "in", "sub", "a.jpg"), quality=90)
        out = os.path.join(probe, "out")
        r = subprocess.run(self.command(out, [os.path.join(probe, "in")], None),
                           capture_output=True, text=True)
        self.has_dirs = r.returncode == 0 and count_pngs(out) == 1
        # A second one-image run, warm: about the start-up cost (loading LibTorch
        # and the model) that every explain run's wall time includes.
        shutil.rmtree(out, ignore_errors=True)
        inputs = [os.path.join(probe, "in", *([] if self.has_dirs else ["sub", "a.jpg"]))]
        self.startup = run_measured(self.command(out, inputs, None))
        del self.startup["stdout"]
        shutil.rmtree(probe, ignore_errors=True)

    def command(self, out_dir, inputs, batch):
        cmd = [self.binary, "explain", "--model", self.model, "--out-dir", out_dir,
               "--threads", str(self.threads)] + PREPROCESS
        if batch is not None:
            cmd += ["--batch-size", str(batch)]
        if self.has_quiet:
            cmd.append("--quiet")
        return cmd + self.extra + inputs

    def run(self, root, n_images, batch, scratch):
        """One timed explain run over the folder root (or its files, one by one,
        when folders are not supported)."""
        if batch != 1 and not self.has_batch:
            return {"skipped": "this guidedbp has no --batch-size"}
        out = os.path.join(scratch, "maps")
        shutil.rmtree(out, ignore_errors=True)
        inputs = [root] if self.has_dirs else list_images(root)
        cmd = self.command(out, inputs, batch if self.has_batch else None)
        r = run_measured(cmd)
        del r["stdout"]  # one line per map
        r["maps"] = count_pngs(out)
        shutil.rmtree(out, ignore_errors=True)
        r.update(images=n_images, batch=batch, threads=self.threads,
                 command=" ".join(cmd[:cmd.index("--model") + 1] + ["M", "--out-dir", "D"]
                                  + cmd[cmd.index("--out-dir") + 2:len(cmd) - len(inputs)]
                                  + (["DIR"] if self.has_dirs else [f"({len(inputs)} files)"])))
        r["images_per_s"] = n_images / r["wall_s"]
        r["cpu_s_per_image"] = r["cpu_s"] / n_images
        if r["rc"] != 0 or r["maps"] != n_images:
            r["error"] = f"exit {r['rc']}, {r['maps']} maps for {n_images} images"
        print(f"explain batch {batch} on {n_images} images: {r['wall_s']:.1f} s, "
              f"{r['images_per_s']:.2f} images/s, max RSS {r['max_rss_mb']:.0f} MiB"
              + (f"  ERROR {r['error']}: {r['stderr_tail'][-300:]}" if "error" in r else ""),
              file=sys.stderr)
        return r


def pure_throughput(bench, models_dir, batches, threads, results):
    """GuidedBackprop on a preloaded batch (guidedbp_bench's method: warm-up,
    interleaved rounds, medians), resnet18, 3 x 224 x 224, target 3."""
    out = os.path.join(results, "dataset_pure.json")
    cmd = [bench, "--models-dir", models_dir, "--models", "resnet18",
           "--batches", ",".join(map(str, batches)),
           "--threads", str(threads), "--only", "guided_backprop", "--k-batches", "0",
           "--no-memory", "--no-stages", "--warmup", "2", "--min-rounds", "3",
           "--max-rounds", "9", "--budget", "20", "--out", out]
    r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"dataset_bench: guidedbp_bench failed: {r.stderr[-1000:]}")
    recs = {}
    for rec in json.load(open(out))["records"]:
        b = rec["batch"]
        recs[b] = {"batch": b, "threads": rec["threads"], "rounds": rec["n"],
                   "median_ms": rec["median_ms"], "cpu_median_ms": rec["cpu_median_ms"],
                   "images_per_s": b * 1000.0 / rec["median_ms"],
                   "cpu_s_per_image": rec["cpu_median_ms"] / 1000.0 / b}
        print(f"pure GuidedBackprop batch {b}: {rec['median_ms']:.0f} ms per batch, "
              f"{recs[b]['images_per_s']:.2f} images/s", file=sys.stderr)
    return recs


# ---------------------------------------------------------------- Python loop

def python_worker(a):
    """The Python way, one image at a time; prints one JSON line."""
    import warnings

    import torch
    t_start = time.perf_counter()
    missing = []
    try:
        import matplotlib
        matplotlib.use("Agg")
    except ImportError:
        missing.append("python3-matplotlib")
    try:
        import tqdm  # noqa: F401  (Captum imports it)
    except ImportError:
        missing.append("python3-tqdm")
    if missing:
        print(json.dumps({"skipped": "needs " + ", ".join(missing)}))
        return
    try:
        from captum.attr import GuidedBackprop
        from captum.attr import visualization as viz
    except ImportError as e:
        print(json.dumps({"skipped": f"Captum not importable ({e}); set CAPTUM_PATH"}))
        return
    import captum
    from PIL import Image
    from torchvision import transforms

    sys.path.insert(0, HERE)
    import make_models

    warnings.filterwarnings("ignore")  # Captum warns on every call that it sets hooks
    torch.set_num_threads(a.threads)
    files = list_images(a.python_worker)[:a.python_images]
    device = torch.device(a.device)
    model = make_models.build("resnet18").eval().to(device)
    gbp = GuidedBackprop(model)
    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    os.makedirs(a.py_out, exist_ok=True)
    t0 = time.perf_counter()
    for i, path in enumerate(files):
        x = tf(Image.open(path).convert("RGB")).unsqueeze(0).to(device)
        with torch.no_grad():
            pred = int(model(x).argmax(1))
        attr = gbp.attribute(x, target=pred)
        fig, _ = viz.visualize_image_attr(attr[0].permute(1, 2, 0).detach().cpu().numpy(),
                                          method="heat_map", sign="absolute_value",
                                          outlier_perc=2, fig_size=(2.24, 2.24), use_pyplot=False)
        fig.savefig(os.path.join(a.py_out, f"{i:05d}.png"), dpi=100)
    loop_s = time.perf_counter() - t0
    print(json.dumps({"images": len(files), "loop_s": loop_s, "setup_s": t0 - t_start,
                      "captum": captum.__version__, "torch": torch.__version__}))


def python_loop(a, dataset, scratch):
    """Runs python_worker in its own process (Captum on PYTHONPATH there only)."""
    if not os.environ.get("CAPTUM_PATH"):
        print("python loop skipped: CAPTUM_PATH not set", file=sys.stderr)
        return {"skipped": "CAPTUM_PATH not set"}
    out = os.path.join(scratch, "pymaps")
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = env["CAPTUM_PATH"] + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, os.path.abspath(__file__), "--python-worker", dataset,
           "--python-images", str(a.python_images), "--threads", str(a.threads), "--py-out", out,
           "--device", a.device]
    r = run_measured(cmd, env=env)
    lines = [ln for ln in r.pop("stdout").splitlines() if ln.startswith("{")]
    if r["rc"] != 0 or not lines:
        print(f"python loop failed: {r['stderr_tail'][-1000:]}", file=sys.stderr)
        return {"error": f"exit {r['rc']}: {r['stderr_tail'][-1000:]}"}
    w = json.loads(lines[-1])
    if "skipped" in w:
        print(f"python loop skipped: {w['skipped']}", file=sys.stderr)
        return w
    r.update(w)
    r["maps"] = count_pngs(out)
    shutil.rmtree(out, ignore_errors=True)
    r["threads"] = a.threads
    r["images_per_s"] = r["images"] / r["loop_s"]  # the loop alone: kind to Python
    r["images_per_s_whole"] = r["images"] / r["wall_s"]
    r["cpu_s_per_image"] = r["cpu_s"] / r["images"]
    if r["maps"] != r["images"]:
        r["error"] = f"{r['maps']} maps for {r['images']} images"
    print(f"python loop on {r['images']} images: loop {r['loop_s']:.1f} s "
          f"({r['images_per_s']:.2f} images/s), process {r['wall_s']:.1f} s, "
          f"max RSS {r['max_rss_mb']:.0f} MiB", file=sys.stderr)
    return r


# ---------------------------------------------------------------- report

def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def fmt(x, digits=2):
    if x is None:
        return "-"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.{digits}f}"


def rate(r):
    return None if not r or "images_per_s" not in r or "error" in r else r["images_per_s"]


def report(res):
    runs, pure, py = res["explain"], res["pure"], res["python"]
    m = res["meta"]
    lines = [f"`guidedbp explain` over {m['images']} generated images (JPEG and PNG, "
             f"256-640 px, nested folders), `{' '.join(PREPROCESS)}`, resnet18 (random "
             f"weights, TorchScript), {m['threads']} intra-op thread(s) in every run; "
             f"explain: wall time of the whole process, start-up included.\n",
             "| run | images | batch | wall s | images/s | CPU s / image | max RSS MiB |",
             "|---|---|---|---|---|---|---|"]
    for key, r in runs.items():
        if "skipped" in r:
            lines.append(f"| `explain` ({key}) | - | - | - | not run: {r['skipped']} | - | - |")
            continue
        lines.append(f"| `explain` ({key}) | {r['images']} | {r['batch']} | {fmt(r['wall_s'], 1)} | "
                     f"{fmt(r['images_per_s'])}{' (' + r['error'] + ')' if 'error' in r else ''} | "
                     f"{fmt(r['cpu_s_per_image'], 3)} | {fmt(r['max_rss_mb'])} |")
    for b, r in sorted(pure.items(), key=lambda kv: int(kv[0])):
        lines.append(f"| pure GuidedBackprop, preloaded tensor (median of {r['rounds']}) | - | {b} | "
                     f"{fmt(r['median_ms'] / 1000)} per batch | {fmt(r['images_per_s'])} | "
                     f"{fmt(r['cpu_s_per_image'], 3)} | - |")
    if "images" in py:
        lines.append(f"| Python: Captum GBP + visualize_image_attr + savefig | {py['images']} | 1 | "
                     f"{fmt(py['wall_s'], 1)} (loop {fmt(py['loop_s'], 1)}) | "
                     f"{fmt(py['images_per_s'])} (loop; process {fmt(py['images_per_s_whole'])}) | "
                     f"{fmt(py['cpu_s_per_image'], 3)} | {fmt(py['max_rss_mb'])} |")
    else:
        why = py.get("skipped") or py.get("error", "-").splitlines()[0][:80]
        lines.append(f"| Python: Captum GBP + visualize_image_attr + savefig | - | 1 | - | "
                     f"not run: {why} | - | - |")
    one = m["one_image_run"]
    lines.append(f"| `explain` of one image (about the start-up cost) | 1 | - | "
                 f"{fmt(one['wall_s'], 2)} | - | "
                 f"{fmt(one['cpu_s'], 3)} | {fmt(one['max_rss_mb'])} |")
    lines += ["", "| comparison | value | target |", "|---|---|---|"]
    for k, (v, target) in res["ratios"].items():
        lines.append(f"| {k} | {fmt(v, 3)} | {target} |")
    return "\n".join(lines) + "\n"


def ratios(res):
    runs, pure, py, m = res["explain"], res["pure"], res["python"], res["meta"]
    big = max(m["batches"])
    out = {}
    for b in m["batches"]:
        out[f"explain batch {b} / pure batch {b} (images/s)"] = (
            ratio(rate(runs.get(f"all, batch {b}")), rate(pure.get(str(b)))),
            ">= 0.9" if b == big else "")
    one = m["one_image_run"]
    if one.get("rc") == 0:
        run = runs.get(f"all, batch {big}")
        steady = (None if rate(run) is None or run["wall_s"] <= one["wall_s"]
                  else run["images"] / (run["wall_s"] - one["wall_s"]))
        out[f"explain batch {big} minus a one-image run's time / pure batch {big}"] = (
            ratio(steady, rate(pure.get(str(big)))), "(start-up left out)")
    if big != 1:
        out[f"explain batch {big} / explain batch 1"] = (
            ratio(rate(runs.get(f"all, batch {big}")), rate(runs.get("all, batch 1"))), "")
    for b in m["batches"]:
        out[f"explain batch {b} / Python loop (speed-up)"] = (
            ratio(rate(runs.get(f"all, batch {b}")), rate(py)), ">= 10" if b == big else "")
    mb = m["memory_batch"]
    sub, full = runs.get(f"first {m['subset']}, batch {mb}"), runs.get(f"all, batch {mb}")
    out[f"max RSS, {m['images']} / {m['subset']} images (batch {mb})"] = (
        ratio(full and full.get("max_rss_mb"), sub and sub.get("max_rss_mb")), "~1 (flat)")
    return out


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--guidedbp", help="the guidedbp binary")
    p.add_argument("--bench", help="the guidedbp_bench binary")
    p.add_argument("--models-dir", help="bench/make_models.py's folder (resnet18.pt)")
    p.add_argument("--work", help="scratch folder: the dataset (kept) and the maps (removed)")
    p.add_argument("--results", help="where dataset.json and dataset.md go")
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--subset", type=int, default=100,
                   help="images per top folder; the memory check runs on the first")
    p.add_argument("--batches", default="1,32")
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads in every run (default 1: on 2 cores one is left for I/O)")
    p.add_argument("--python-images", type=int, default=100,
                   help="images for the Python loop (it is slow; 0 skips it)")
    p.add_argument("--explain-args", default="", help="extra explain options, one string")
    p.add_argument("--device", default="cpu",
                   help="cpu or cuda: explain's --device and the Python loop's device (the "
                        "pure-throughput row is CPU-only: guidedbp_bench has no device option)")
    p.add_argument("--python-worker", help=argparse.SUPPRESS)
    p.add_argument("--py-out", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.python_worker:
        python_worker(a)
        return
    for need in ("guidedbp", "bench", "models_dir", "work", "results"):
        if getattr(a, need) is None:
            p.error(f"--{need.replace('_', '-')} is required")
    if a.subset < 1 or a.images < a.subset or a.images % a.subset:
        p.error("--images must be a multiple of --subset")
    batches = [int(b) for b in a.batches.split(",")]
    start = time.perf_counter()
    load_start = open("/proc/loadavg").read().split()[:3]
    os.makedirs(a.results, exist_ok=True)
    dataset = os.path.join(a.work, "dataset")
    make_dataset(dataset, a.images, a.subset)
    scratch = os.path.join(a.work, "scratch")
    os.makedirs(scratch, exist_ok=True)

    explain_args = a.explain_args.split() + (["--device", a.device] if a.device != "cpu" else [])
    ex = Explain(a.guidedbp, os.path.join(a.models_dir, "resnet18.pt"), a.threads,
                 explain_args, scratch)
    print(f"guidedbp explain: --batch-size {'yes' if ex.has_batch else 'no'}, --quiet "
          f"{'yes' if ex.has_quiet else 'no'}, folder inputs {'yes' if ex.has_dirs else 'no'}",
          file=sys.stderr)
    runs = {}
    for b in batches:
        runs[f"all, batch {b}"] = ex.run(dataset, a.images, b, scratch)
    # Memory with the dataset's size: the largest batch this guidedbp runs.
    mem_batch = max(batches) if ex.has_batch else 1
    runs[f"first {a.subset}, batch {mem_batch}"] = ex.run(os.path.join(dataset, "s0"), a.subset,
                                                          mem_batch, scratch)
    pure = ({str(b): r for b, r in
             pure_throughput(a.bench, a.models_dir, batches, a.threads, a.results).items()}
            if a.device == "cpu" else {})
    py = (python_loop(a, dataset, scratch) if a.python_images > 0
          else {"skipped": "--python-images 0"})

    res = {"meta": {"tool": "dataset_bench", "images": a.images, "subset": a.subset,
                    "batches": batches, "memory_batch": mem_batch, "threads": a.threads,
                    "preprocess": PREPROCESS,
                    "model": "resnet18 (bench/make_models.py)",
                    "python_images": a.python_images, "explain_args": " ".join(explain_args),
                    "device": a.device,
                    "one_image_run": ex.startup,
                    "explain_has": {"batch_size": ex.has_batch, "quiet": ex.has_quiet,
                                    "folders": ex.has_dirs},
                    "nproc": os.cpu_count(), "loadavg_start": load_start,
                    "loadavg_end": open("/proc/loadavg").read().split()[:3],
                    "wall_s": time.perf_counter() - start},
           "explain": runs, "pure": pure, "python": py}
    res["ratios"] = ratios(res)
    text = report(res)
    sys.stdout.write(text)
    with open(os.path.join(a.results, "dataset.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.results, "dataset.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {a.results}/dataset.json and dataset.md ({res['meta']['wall_s']:.0f} s)",
          file=sys.stderr)
    failed = [k for k, r in runs.items() if "error" in r] + (["python"] if "error" in py else [])
    if failed:
        sys.exit(f"dataset_bench: failed runs: {', '.join(failed)}")


if __name__ == "__main__":
    main()
