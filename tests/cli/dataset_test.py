#!/usr/bin/python3
"""Dataset runs of `guidedbp explain` (docs/datasets.md), run by CTest.

A folder tree with nested folders, equal file names, a corrupt and two
grayscale images, images of two sizes; then: outputs mirrored under
--out-dir, attributions against the independent Python reference on the
eager model, the same maps whatever --batch-size, the manifest, shards (option,
Slurm and Kubernetes variables) whose union is the whole run, --files-from,
--skip-existing after a partial run, run-wide errors reported once before any
image, and runs stopped by SIGTERM / SIGINT and resumed.

Run with Debian's interpreter: /usr/bin/python3 (python3-torch, numpy).
"""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import harness
from harness import ARGS, check, expect_error, make_model, read_png, reference, run, write_png

CLASSES = 5


class Pooled(nn.Module):
    """N x 3 x H x W (any H, W) -> N x 5."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6 * 4, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv(x))
        x = F.adaptive_avg_pool2d(x, 2)
        return self.fc(torch.flatten(x, 1))


class Slow(nn.Module):
    """N x 3 x 32 x 32 -> N x 5, slow on purpose (for the signal tests)."""

    def __init__(self):
        super().__init__()
        self.first = nn.Conv2d(3, 16, 3, padding=1)
        self.conv = nn.Conv2d(16, 16, 3, padding=1)
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.first(x))
        for _ in range(40):
            y = F.relu(self.conv(y))
        return self.fc(y.mean((2, 3)))


@contextlib.contextmanager
def environment(**variables):
    """The CLI runs with these environment variables set."""
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def files_under(root):
    """Relative paths of every file below root (temporary files included)."""
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


def pixels_chw(png_path):
    """The model input the CLI builds (gray repeated to RGB), 1 x 3 x H x W."""
    p = read_png(png_path).astype(np.float32) / 255.0
    if p.shape[2] == 1:
        p = np.repeat(p, 3, axis=2)
    return torch.from_numpy(p.transpose(2, 0, 1).copy()).unsqueeze(0)


def make_tree(root):
    """The dataset: {relative image path: 'rgb' | 'gray' | 'corrupt'}."""
    rs = np.random.RandomState(0)
    layout = {
        "a/x.png": "rgb", "b/x.png": "rgb", "b/y.png": "rgb", "c/d/x.png": "rgb",
        "c/d/z.PNG": "rgb", "top.png": "rgb", "gray.png": "gray", "c/gray2.png": "gray",
        "a/broken.png": "corrupt", "e/wide.png": "wide",
    }
    for rel, kind in layout.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if kind == "corrupt":
            with open(p, "wb") as f:
                f.write(b"\x89PNG\r\n\x1a\nbroken")
        elif kind == "gray":
            write_png(p, (rs.rand(8, 8) * 255).astype(np.uint8))
        elif kind == "wide":
            write_png(p, (rs.rand(8, 12, 3) * 255).astype(np.uint8))
        else:
            write_png(p, (rs.rand(8, 8, 3) * 255).astype(np.uint8))
    with open(os.path.join(root, "notes.txt"), "w") as f:
        f.write("not an image\n")
    return layout


def expected_outputs(root, layout, eager, save_raw):
    """{relative output: (image path, class)} from the eager model's argmax."""
    out = {}
    for rel, kind in layout.items():
        if kind == "corrupt":
            continue
        with torch.no_grad():
            cls = int(eager(pixels_chw(os.path.join(root, rel))).argmax(1))
        stem = os.path.splitext(rel)[0]
        out[f"{stem}_class{cls}.png"] = (rel, cls)
        if save_raw:
            out[f"{stem}_class{cls}.npy"] = (rel, cls)
    return out


def area_dataset():
    eager, model = make_model(Pooled, "pooled.pt", 3)
    root = harness.path("dataset")
    layout = make_tree(root)
    expected = expected_outputs(root, layout, eager, save_raw=True)
    good = sum(1 for kind in layout.values() if kind != "corrupt")

    def explain(out_dir, *extra, expect=1):
        return run("explain", "--model", model, "--out-dir", out_dir, "--save-raw", *extra,
                   root, expect=expect)

    full_dir = harness.path("ds_full")
    manifest = harness.path("ds_full.jsonl")
    state = {}

    def folder_run():
        proc = explain(full_dir, "--batch-size", "4", "--manifest", manifest)
        state["full"] = proc
        err = proc.stderr.splitlines()
        assert any("a/broken.png: corrupt PNG" in e for e in err), proc.stderr
        assert err[-1] == f"guidedbp: 1 of {len(layout)} images failed", err
        # Two gray images, one note.
        assert sum("grayscale" in e for e in err) == 1, proc.stderr
        assert files_under(full_dir) == set(expected), sorted(files_under(full_dir))
        assert len(proc.stdout.splitlines()) == good, proc.stdout
    check("dataset: nested folders, equal names, corrupt and gray images", folder_run)

    def against_reference():
        for rel, (image, cls) in expected.items():
            if not rel.endswith(".npy"):
                continue
            ref = reference(eager, pixels_chw(os.path.join(root, image)), cls)
            got = torch.from_numpy(np.load(os.path.join(full_dir, rel)))
            assert got.shape == ref.shape, (rel, got.shape, ref.shape)
            scale = ref.abs().max().item()
            assert (got - ref).abs().max().item() <= 1e-5 * scale, rel
    check("dataset: batched maps equal the Python reference image by image", against_reference)

    def batch_independent():
        one_dir = harness.path("ds_batch1")
        explain(one_dir, "--batch-size", "1")
        big_dir = harness.path("ds_batch64")
        explain(big_dir, "--batch-size", "64", "--io-threads", "1")
        for other in (one_dir, big_dir):
            assert files_under(other) == set(expected), other
            for rel in expected:
                a, b = os.path.join(full_dir, rel), os.path.join(other, rel)
                if rel.endswith(".npy"):
                    x, y = np.load(a), np.load(b)
                    assert np.abs(x - y).max() <= 1e-6 * max(np.abs(x).max(), 1e-30), rel
                else:
                    d = np.abs(read_png(a).astype(int) - read_png(b).astype(int)).max()
                    assert d <= 1, (rel, d)
    check("dataset: the same maps with --batch-size 1, 4 and 64", batch_independent)

    def manifest_lines():
        lines = open(manifest).read().splitlines()
        assert len(lines) == len(layout), lines
        records = [json.loads(line) for line in lines]
        by_input = {os.path.relpath(r["input"], root): r for r in records}
        assert set(by_input) == set(layout), sorted(by_input)
        for rel, kind in layout.items():
            r = by_input[rel]
            if kind == "corrupt":
                assert r["status"] == "error" and "corrupt PNG" in r["error"], r
                assert r["outputs"] == [], r
                continue
            assert r["status"] == "ok" and r["error"] is None, r
            with torch.no_grad():
                logits = eager(pixels_chw(os.path.join(root, rel)))[0]
            probs = torch.softmax(logits.double(), 0)
            assert r["predicted"] == int(probs.argmax()), (r, probs)
            assert r["targets"] == [r["predicted"]], r
            assert abs(r["score"] - float(probs.max())) < 1e-5, (r, probs)
            for output in r["outputs"]:
                assert os.path.isfile(output), output
            assert len(r["outputs"]) == 2, r
    check("dataset: --manifest has one JSON line per image", manifest_lines)

    def shards():
        union = set()
        for i in range(3):
            out = harness.path(f"ds_shard{i}")
            proc = run("explain", "--model", model, "--out-dir", out, "--save-raw",
                       "--shard", f"{i}/3", root)
            assert proc.returncode in (0, 1), proc.stderr
            got = files_under(out)
            assert not (got & union), (i, got & union)
            union |= got
        assert union == set(expected), sorted(union ^ set(expected))
    check("dataset: --shard I/3 for I = 0, 1, 2 is the whole run, disjoint", shards)

    def shard_environment():
        reference_dir = harness.path("ds_shard1")
        slurm = harness.path("ds_slurm")
        with environment(SLURM_ARRAY_TASK_ID="11", SLURM_ARRAY_TASK_MIN="10",
                         SLURM_ARRAY_TASK_COUNT="3"):
            proc = run("explain", "--model", model, "--out-dir", slurm, "--save-raw", root)
        assert proc.returncode in (0, 1), proc.stderr
        assert files_under(slurm) == files_under(reference_dir), sorted(files_under(slurm))
        k8s = harness.path("ds_k8s")
        with environment(JOB_COMPLETION_INDEX="1"):
            proc = run("explain", "--model", model, "--out-dir", k8s, "--save-raw",
                       "--shard-count", "3", root)
            assert proc.returncode in (0, 1), proc.stderr
            assert files_under(k8s) == files_under(reference_dir), sorted(files_under(k8s))
            unknown = harness.path("ds_k8s_no_count")
            expect_error(["explain", "--model", model, "--out-dir", unknown, root], 1,
                         ["JOB_COMPLETION_INDEX", "--shard-count"], [unknown])
    check("dataset: shards from Slurm and Kubernetes Indexed Job variables", shard_environment)

    def files_from():
        listed = ["b/x.png", "c/d/x.png", "top.png"]
        out = harness.path("ds_list")
        proc = subprocess.run(
            [ARGS.cli, "explain", "--model", model, "--out-dir", out, "--files-from", "-"],
            input="".join(os.path.join(root, rel) + "\n" for rel in listed) + "\n",
            capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        stems = {os.path.splitext(rel)[0] for rel in listed}
        got = {p.split("_class")[0] for p in files_under(out)}
        assert got == stems, got
    check("dataset: --files-from - mirrors paths below their common folder", files_from)

    def resume():
        out = harness.path("ds_resume")
        shutil.copytree(full_dir, out)
        victim = next(rel for rel in sorted(expected) if rel.startswith("b/x_") and
                      rel.endswith(".png"))
        os.remove(os.path.join(out, victim))
        # Stale temporaries of a killed run: ours go, another stem's stay.
        stale = os.path.join(out, "a", ".x_class1.png.tmp-Ab12Cd")
        other = os.path.join(out, "a", ".unrelated_class1.png.tmp-Ab12Cd")
        for p in (stale, other):
            open(p, "w").close()
        proc = explain(out, "--skip-existing", "--batch-size", "4")
        lines = proc.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith(os.path.join(root, "b/x.png")), lines
        assert "skipped" in proc.stderr, proc.stderr
        assert not os.path.exists(stale) and os.path.exists(other)
        os.remove(other)
        assert files_under(out) == set(expected)
    check("dataset: --skip-existing redoes only incomplete images, clears stale temporaries",
          resume)

    def run_wide():
        out = harness.path("ds_runwide")
        for argv, code, words in [
            (["--target", "9"], 1, ["--target 9 is out of range for a model with 5 classes"]),
            (["--top-k", "6"], 1, ["--top-k 6 but the model has only 5 classes"]),
            (["--shard", "3/3"], 2, ["--shard"]),
            (["--files-from", harness.path("no_such_list.txt")], 1, ["no_such_list.txt"]),
        ]:
            expect_error(["explain", "--model", model, "--out-dir", out] + argv + [root],
                         code, words, [out])
        empty = harness.path("ds_empty")
        os.makedirs(empty, exist_ok=True)
        expect_error(["explain", "--model", model, "--out-dir", out, empty], 1,
                     ["no images"], [out])
    check("dataset: run-wide mistakes stop the run once, before any image", run_wide)

    def progress_lines():
        out = harness.path("ds_progress")
        proc = explain(out, "--progress-every", "0")
        assert any(e.startswith("guidedbp: ") and f"/{len(layout)} images" in e
                   for e in proc.stderr.splitlines()), proc.stderr
        assert "images/s" in proc.stderr, proc.stderr
        quiet = harness.path("ds_quiet")
        proc = explain(quiet, "--progress-every", "0", "--quiet")
        assert "images/s" not in proc.stderr, proc.stderr
    check("dataset: progress lines in logs, none with --quiet", progress_lines)


def area_interrupt():
    _, model = make_model(Slow, "slow.pt", 5)
    root = harness.path("many")
    rs = np.random.RandomState(1)
    count = 400
    for i in range(count):
        p = os.path.join(root, f"part{i % 4}", f"img{i:03d}.png")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        write_png(p, (rs.rand(32, 32, 3) * 255).astype(np.uint8))

    def stop(sig, code, name):
        out = harness.path(f"stop_{name}")
        manifest = harness.path(f"stop_{name}.jsonl")
        argv = [ARGS.cli, "explain", "--model", model, "--out-dir", out, "--batch-size",
                "2", "--manifest", manifest, root]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if os.path.exists(manifest) and len(open(manifest).read().splitlines()) >= 3:
                break
            time.sleep(0.02)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == code, (proc.returncode, stderr)
        assert f"interrupted by {name}" in stderr and "not done" in stderr, stderr
        written = files_under(out)
        assert not any(".tmp-" in p for p in written), written
        records = [json.loads(line) for line in open(manifest).read().splitlines()]
        assert 3 <= len(records) < count, len(records)
        assert all(r["status"] == "ok" for r in records)
        assert {o for r in records for o in r["outputs"]} == \
            {os.path.join(out, p) for p in written}
        assert len(stdout.splitlines()) == len(records)
        # Resumed: exactly the rest, then every image once.
        proc = run("explain", "--model", model, "--out-dir", out, "--batch-size", "2",
                   "--manifest", manifest, "--skip-existing", root, expect=0)
        assert len(proc.stdout.splitlines()) == count - len(records), proc.stdout
        records = [json.loads(line) for line in open(manifest).read().splitlines()]
        assert len(records) == count and len({r["input"] for r in records}) == count
        assert len(files_under(out)) == count
    check("interrupt: SIGTERM finishes in-flight images, exit 143, resumed exactly",
          lambda: stop(signal.SIGTERM, 143, "SIGTERM"))
    check("interrupt: SIGINT (Ctrl-C) likewise, exit 130",
          lambda: stop(signal.SIGINT, 130, "SIGINT"))

class DarkBlind(nn.Module):
    """N x 3 x 8 x 8 -> N x 5 through relu(x - 0.5): an image darker than
    0.5 everywhere switches every ReLU off, so its map is blank (zero)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.relu(x - 0.5).flatten(1))


def on_terminal(argv):
    """Runs the CLI with stderr on a pseudo-terminal; (exit code, stderr bytes)."""
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen([ARGS.cli] + argv, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=300), out


def area_quality():
    """Issue 16: blank maps are counted and listed per image; the progress bar
    is redrawn a few times a second, not per image, and estimates the time
    left only from several images."""
    _, model = make_model(DarkBlind, "dark_blind.pt", 3)
    root = harness.path("quality")
    rs = np.random.RandomState(4)
    dark = set()
    for i in range(12):
        p = os.path.join(root, f"img{i:02d}.png")
        os.makedirs(root, exist_ok=True)
        if i % 4 == 1:  # 3 dark images: blank maps
            write_png(p, (rs.rand(8, 8, 3) * 100).astype(np.uint8))
            dark.add(p)
        else:
            write_png(p, (155 + rs.rand(8, 8, 3) * 100).astype(np.uint8))

    def blank_maps():
        out = harness.path("quality_out")
        manifest = harness.path("quality.jsonl")
        proc = run("explain", "--model", model, "--out-dir", out, "--manifest", manifest,
                   "--batch-size", "4", root, expect=0)
        records = {r["input"]: r for r in map(json.loads, open(manifest).read().splitlines())}
        assert len(records) == 12, records.keys()
        for p, r in records.items():
            assert r["status"] == "ok", r
            if p in dark:
                assert len(r["warnings"]) == 1 and "heat map is blank" in r["warnings"][0], r
            else:
                assert r["warnings"] == [], r
        err = proc.stderr.splitlines()
        # The warning once (with its first image), then the summary that counts them.
        assert len(err) == 2, proc.stderr
        assert err[0].startswith("guidedbp: warning: ") and "heat map is blank" in err[0], err
        assert "12 explained, 0 failed of 12 images" in err[1], err[1]
        assert f"3 of the explained with warnings (a blank map), listed in {manifest}" in err[1], \
            err[1]
        proc = run("explain", "--model", model, "--out-dir", harness.path("quality_out2"),
                   root, expect=0)
        assert "3 of the explained with warnings" in proc.stderr and "--manifest FILE" in \
            proc.stderr, proc.stderr
    check("quality: blank maps listed per image in the manifest and counted in the summary",
          blank_maps)

    many = harness.path("quality_many")
    os.makedirs(many, exist_ok=True)
    for i in range(300):
        write_png(os.path.join(many, f"m{i:03d}.png"),
                  (155 + rs.rand(8, 8, 3) * 100).astype(np.uint8))

    def progress_bar():
        t0 = time.monotonic()
        code, err = on_terminal(["explain", "--model", model, "--out-dir",
                                 harness.path("quality_bar"), many])
        took = time.monotonic() - t0
        assert code == 0, err[-500:]
        draws = err.split(b"\r\x1b[K[")[1:]
        # At most 10 redraws a second, and the last one; one per image before.
        assert 1 <= len(draws) <= 2 + 10 * took, (len(draws), took)
        assert len(draws) < 300, len(draws)
        for d in draws:
            done = int(d.split(b"]", 1)[1].split(b"/", 1)[0])
            if done < 3:
                assert b"images/s" not in d and b"left" not in d, d
        assert len(err) < 300 * 20, len(err)  # it was ~90 bytes per image
    check("quality: the terminal progress bar is redrawn at most 10 times a second",
          progress_bar)


AREAS = {"dataset": area_dataset, "interrupt": area_interrupt, "quality": area_quality}

if __name__ == "__main__":
    sys.exit(harness.main(__doc__, AREAS))
