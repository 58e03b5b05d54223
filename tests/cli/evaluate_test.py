#!/usr/bin/python3
"""End-to-end tests of `guidedbp evaluate`, run by CTest (cli.evaluate).

Each metric is compared with an INDEPENDENT Python reference written here from
Captum's formulas (captum/metrics/_core/infidelity.py and sensitivity.py,
re-derived, no Captum code), a loop per example and per sample on the eager
models, with the attributions of tests/reference/torch_reference.py; the
randomization test with PyTorch's own `torch.manual_seed(s); m.reset_parameters()`,
scipy's spearmanr and scikit-image's structural_similarity.

Run with Debian's interpreter: /usr/bin/python3 (python3-torch, numpy,
python3-scipy, python3-skimage).
"""
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from harness import (Classifier, Rgb, Scalar, check, expect_error, fresh_dir, main, make_model,
                     path, read_png, reference, run, save, write_png)
from torch_reference import select

MAX_DIFF = {}  # (metric, dtype) -> largest |guidedbp - reference|


class TwoInputs(nn.Module):
    """(N x 6, N x 6, mask N x 8) -> N x 4."""

    def __init__(self):
        super().__init__()
        self.fa = nn.Linear(6, 8)
        self.fb = nn.Linear(6, 8)
        self.out = nn.Linear(8, 4)

    def forward(self, a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.fa(a) + self.fb(b)) * mask)


class MprtNet(nn.Module):
    """N x 2 x 8 x 8 -> N x 4: conv, batch norm, ReLU, fc1, ReLU, fc2."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.fc1 = nn.Linear(3 * 8 * 8, 10)
        self.fc2 = nn.Linear(10, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.conv(x)))
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


# ------------------------------------------------------------ references
def expand_target(target, n):
    if isinstance(target, list):
        return [t for t in target for _ in range(n)]
    return target


def expand_extra(extra, n):
    return tuple(e.repeat_interleave(n, 0) if torch.is_tensor(e) else e for e in extra)


def ref_infidelity(eager, xs, attrs, perts, perturbed, target, extra):
    """(infidelity, normalized): Yeh et al.'s definition as Captum computes it,
    one example and one sample at a time, in float64."""
    n_ex = xs[0].shape[0]
    n = perturbed[0].shape[0] // n_ex
    with torch.no_grad():
        fx = select(eager(*xs, *extra), target).reshape(-1).double()
        fxt = select(eager(*perturbed, *expand_extra(extra, n)),
                     expand_target(target, n)).reshape(-1).double()
    plain, normalized = [], []
    for i in range(n_ex):
        a_dot_i, change = [], []
        for j in range(n):
            r = i * n + j
            a_dot_i.append(sum(float((a[i].double() * p[r].double()).sum())
                               for a, p in zip(attrs, perts)))
            change.append(float(fx[i] - fxt[r]))
        plain.append(sum((u - v) ** 2 for u, v in zip(a_dot_i, change)) / n)
        s_aa = sum(u * u for u in a_dot_i)
        beta = sum(u * v for u, v in zip(a_dot_i, change)) / (s_aa if s_aa != 0 else 1.0)
        normalized.append(sum((beta * u - v) ** 2 for u, v in zip(a_dot_i, change)) / n)
    return plain, normalized


def ref_sensitivity(eager, xs, perturbed, target, extra, rule, order):
    """max_j ||E(x_i) - E(x~_ij)|| / ||E(x_i)|| (a zero norm replaced by 1)."""
    n_ex = xs[0].shape[0]
    n = perturbed[0].shape[0] // n_ex
    e = reference(eager, tuple(xs), target, extra, rule)
    et = reference(eager, tuple(perturbed), expand_target(target, n),
                   expand_extra(extra, n), rule)
    out = []
    for i in range(n_ex):
        flat = torch.cat([t[i].double().flatten() for t in e])
        base = float(torch.linalg.vector_norm(flat, order))
        base = base if base != 0 else 1.0
        out.append(max(
            float(torch.linalg.vector_norm(
                flat - torch.cat([t[i * n + j].double().flatten() for t in et]), order)) / base
            for j in range(n)))
    return out


def report(*argv, expect=0):
    out = path("report.json")
    proc = run("evaluate", *argv, "--output", out, expect=expect)
    assert proc.stdout.count("\n") == 1, proc.stdout
    with open(out) as f:
        return json.load(f)


def close(actual, expected, dtype, key):
    a = np.array(actual, dtype=np.float64)
    e = np.array(expected, dtype=np.float64)
    diff = float(np.max(np.abs(a - e)))
    scale = max(1.0, float(np.max(np.abs(e))))
    MAX_DIFF[key] = max(MAX_DIFF.get(key, 0.0), diff / scale)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert diff <= tol * scale, f"{key}: max |diff| {diff} (scale {scale}): {a} vs {e}"


def agree(actual, expected, key):
    """Two runs of the CLI that differ only in --batch-size or --shard: the same
    nulls, values within float32 rounding (batched matrix products round
    differently from one image at a time)."""
    a = np.array(actual, dtype=np.float64)
    e = np.array(expected, dtype=np.float64)
    assert a.shape == e.shape and (np.isnan(a) == np.isnan(e)).all(), (a, e)
    ok = ~np.isnan(e)
    diff = float(np.max(np.abs(a[ok] - e[ok]), initial=0.0))
    MAX_DIFF[key] = max(MAX_DIFF.get(key, 0.0), diff)
    assert diff <= 1e-6, f"{key}: max |diff| {diff}: {a} vs {e}"


# ------------------------------------------------------------ infidelity
def infidelity_case(name, eager, model, xs, target, extra=(), n=10, zero=False,
                    dtype=torch.float64):
    def body():
        gen = torch.Generator().manual_seed(len(name))
        attrs = [torch.zeros_like(x) if zero else torch.randn(x.shape, generator=gen,
                                                             dtype=dtype) for x in xs]
        perts = [0.1 * torch.randn((x.shape[0] * n,) + x.shape[1:], generator=gen,
                                   dtype=dtype) for x in xs]
        perturbed = [x.repeat_interleave(n, 0) - p for x, p in zip(xs, perts)]
        argv = ["--metric", "infidelity", "--model", model]
        for k, x in enumerate(xs):
            argv += ["--input", save(x, f"x{k}.npy"),
                     "--attributions", save(attrs[k], f"a{k}.npy")]
        for k in range(len(xs)):
            argv += ["--perturbations", save(perts[k], f"i{k}.npy"),
                     "--perturbed-inputs", save(perturbed[k], f"xt{k}.npy")]
        for k, e in enumerate(extra):
            argv += ["--forward-arg", save(e, f"e{k}.npy")]
        if target is not None:
            argv += ["--target", repr(target)]
        plain, normalized = ref_infidelity(eager, xs, attrs, perts, perturbed, target, extra)
        r = report(*argv)
        assert r["metric"] == "infidelity" and r["samples"] == n and r["seed"] is None, r
        close(r["values"], plain, dtype, ("infidelity", str(dtype)))
        close(r["normalized"], normalized, dtype, ("infidelity", str(dtype)))
        r = report(*argv, "--normalize")
        close(r["values"], normalized, dtype, ("infidelity", str(dtype)))
    check(f"infidelity {name}", body)


def area_infidelity():
    gen = torch.Generator().manual_seed(0)
    eager, model = make_model(Classifier, "c64.pt", 1, torch.float64)
    x3 = torch.randn(3, 2, 5, 5, generator=gen, dtype=torch.float64)
    infidelity_case("N=3 n=10 float64", eager, model, [x3], 2)
    infidelity_case("N=1 n=1 float64", eager, model, [x3[:1]], 1, n=1)
    infidelity_case("zero attribution", eager, model, [x3], 3, zero=True)
    e32, m32 = make_model(Classifier, "c32.pt", 1, torch.float32)
    infidelity_case("N=3 n=10 float32", e32, m32, [x3.float()], 2, dtype=torch.float32)
    e2, m2 = make_model(TwoInputs, "two.pt", 2, torch.float64)
    a = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    b = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    mask = (torch.rand(3, 8, generator=gen) > 0.3).double()
    infidelity_case("two inputs, extra arg, per-example targets", e2, m2, [a, b],
                    [1, 0, 3], extra=(mask,))

    def generated():
        x = save(x3, "g.npy")
        attr = save(torch.randn(3, 2, 5, 5, generator=gen, dtype=torch.float64), "ga.npy")
        argv = ["--metric", "infidelity", "--model", model, "--input", x, "--target", "1",
                "--attributions", attr, "--samples", "5", "--noise-std", "0.01", "--seed", "7"]
        r1, r2 = report(*argv), report(*argv)
        assert r1["values"] == r2["values"] and r1["seed"] == 7 and r1["samples"] == 5, r1
        # The normalized value minimises over the scale: never above the plain one.
        assert all(n <= v + 1e-12 for n, v in zip(r1["normalized"], r1["values"])), r1
    check("infidelity generated perturbations: seeded, normalized <= plain", generated)


# ------------------------------------------------------- sensitivity-max
def sensitivity_case(name, eager, model, xs, target, method, norm, extra=(), n=10,
                     dtype=torch.float64):
    rule = {"guided-backprop": "guided", "saliency": "plain",
            "deconvolution": "deconvolution"}[method]
    order = {"fro": 2, "inf": float("inf")}.get(norm) or float(norm)

    def body():
        gen = torch.Generator().manual_seed(len(name))
        perturbed = [x.repeat_interleave(n, 0) +
                     0.05 * (2 * torch.rand((x.shape[0] * n,) + x.shape[1:],
                                            generator=gen, dtype=dtype) - 1) for x in xs]
        argv = ["--metric", "sensitivity-max", "--method", method, "--model", model,
                "--norm", norm]
        for k, x in enumerate(xs):
            argv += ["--input", save(x, f"x{k}.npy"),
                     "--perturbed-inputs", save(perturbed[k], f"xt{k}.npy")]
        for k, e in enumerate(extra):
            argv += ["--forward-arg", save(e, f"e{k}.npy")]
        if target is not None:
            argv += ["--target", repr(target)]
        r = report(*argv)
        assert r["metric"] == "sensitivity-max" and r["method"] == method, r
        close(r["values"], ref_sensitivity(eager, xs, perturbed, target, extra, rule, order),
              dtype, ("sensitivity-max", str(dtype)))
    check(f"sensitivity-max {name}", body)


def area_sensitivity():
    gen = torch.Generator().manual_seed(1)
    eager, model = make_model(Classifier, "s64.pt", 3, torch.float64)
    x3 = torch.randn(3, 2, 5, 5, generator=gen, dtype=torch.float64)
    sensitivity_case("N=3 n=10 guided-backprop fro", eager, model, [x3], 2,
                     "guided-backprop", "fro")
    sensitivity_case("N=1 n=1 deconvolution inf", eager, model, [x3[:1]], 0,
                     "deconvolution", "inf", n=1)
    e32, m32 = make_model(Classifier, "s32.pt", 3, torch.float32)
    sensitivity_case("N=3 n=10 float32", e32, m32, [x3.float()], 1, "guided-backprop",
                     "fro", dtype=torch.float32)
    e2, m2 = make_model(TwoInputs, "stwo.pt", 4, torch.float64)
    a = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    b = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    mask = (torch.rand(3, 8, generator=gen) > 0.3).double()
    sensitivity_case("two inputs, extra arg, per-example targets, saliency, p=1", e2, m2,
                     [a, b], [1, 0, 3], "saliency", "1", extra=(mask,))

    def generated():
        argv = ["--metric", "sensitivity-max", "--model", model, "--input",
                save(x3, "g.npy"), "--target", "1", "--samples", "4", "--radius", "0.05",
                "--seed", "3"]
        r1, r2 = report(*argv), report(*argv)
        assert r1["values"] == r2["values"] and r1["radius"] == 0.05, r1
        assert r1["method"] == "guided-backprop" and all(v >= 0 for v in r1["values"]), r1
    check("sensitivity-max generated perturbations: seeded", generated)


# ------------------------------------------------------------------ mprt
def area_mprt():
    from scipy.stats import spearmanr
    from skimage.metrics import structural_similarity

    torch.manual_seed(5)
    eager = MprtNet().double()
    with torch.no_grad():  # statistics that are not the reset ones
        eager.bn.running_mean.uniform_(-0.5, 0.5)
        eager.bn.running_var.uniform_(0.5, 2.0)
        eager.bn.weight.uniform_(0.5, 1.5)
    eager.eval()
    model = path("mprt.pt")
    torch.jit.script(eager).save(model)
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    seed = 4
    layers = ["fc2", "fc1", "bn", "conv"]  # named_modules() with parameters, reversed

    def expected(order):
        original = reference(eager, x, 1, rule="plain")
        sims = {"spearman_abs": [], "spearman": [], "ssim": []}
        cascade = copy.deepcopy(eager)
        for k, layer in enumerate(layers):
            m = cascade if order == "cascading" else copy.deepcopy(eager)
            torch.manual_seed(seed + k)
            getattr(m, layer).reset_parameters()
            maps = reference(m, x, 1, rule="plain")
            row = {"spearman_abs": [], "spearman": [], "ssim": []}
            for i in range(x.shape[0]):
                a, b = original[i].flatten().numpy(), maps[i].flatten().numpy()
                row["spearman_abs"].append(spearmanr(np.abs(a), np.abs(b)).correlation)
                row["spearman"].append(spearmanr(a, b).correlation)
                a2 = original[i].abs().sum(0).numpy()
                b2 = maps[i].abs().sum(0).numpy()
                rng = max(a2.max(), b2.max()) - min(a2.min(), b2.min())
                row["ssim"].append(structural_similarity(a2, b2, data_range=rng))
            for key in sims:
                sims[key].append(row[key])
        return sims

    for order in ("cascading", "independent"):
        def body(order=order):
            plot, strip = path("mprt.png"), path("strip.png")
            r = report("--metric", "mprt", "--order", order, "--method", "saliency",
                       "--model", model, "--input", save(x, "x.npy"), "--target", "1",
                       "--seed", str(seed), "--plot", plot, "--strip", strip)
            assert r["layers"] == layers and r["order"] == order and r["seed"] == seed, r
            sims = expected(order)
            for key in sims:
                close(r["similarity"][key], sims[key], torch.float64, ("mprt", key))
            assert r["values"] == r["similarity"]["spearman_abs"][-1], r
            assert read_png(plot).shape[2] == 3 and read_png(strip).shape[0] > 16
        check(f"mprt {order}: randomization as reset_parameters, scipy and skimage", body)

    def frozen():
        frozen_path = path("frozen.pt")
        torch.jit.freeze(torch.jit.script(eager)).save(frozen_path)
        expect_error(["evaluate", "--metric", "mprt", "--model", frozen_path, "--input",
                      save(x, "x.npy"), "--target", "1", "--output", path("f.json")],
                     1, "no parameters", outputs=[path("f.json")])
    check("mprt on a frozen model: one line, exit 1, no report", frozen)


# ------------------------------------------------------ deletion/insertion
def ref_curve(eager, x, maps, classes, kind, step):
    """RISE's curve, one example and one step at a time: pixels by descending
    channel-summed map (ties: lower index first) set to 0 (deletion) or copied
    into the blurred image (insertion: normalised 11 x 11 Gaussian, sigma 5,
    zero padding); the score is the softmax probability of the class."""
    from scipy.ndimage import correlate
    n, c, h, w = x.shape
    r = np.arange(11) - 5.0
    g = np.exp(-r ** 2 / 50.0)
    kernel = np.outer(g, g) / np.outer(g, g).sum()
    curves = []
    for i in range(n):
        sal = maps[i].sum(0).flatten().tolist()
        order = sorted(range(h * w), key=lambda p: (-sal[p], p))
        img = x[i].numpy()
        if kind == "deletion":
            start, finish = img.copy(), np.zeros_like(img)
        else:
            start = np.stack([correlate(ch, kernel, mode="constant") for ch in img])
            finish = img
        steps = (h * w + step - 1) // step
        curve = []
        for k in range(steps + 1):
            cur = start.copy()
            for p in order[:min(k * step, h * w)]:
                cur[:, p // w, p % w] = finish[:, p // w, p % w]
            with torch.no_grad():
                prob = torch.softmax(eager(torch.from_numpy(cur)[None]), 1)[0, classes[i]]
            curve.append(float(prob))
        curves.append(curve)
    return curves


def area_curves():
    torch.manual_seed(6)
    eager = MprtNet().double().eval()
    model = path("curves.pt")
    torch.jit.script(eager).save(model)
    x = torch.rand(2, 2, 8, 8, dtype=torch.float64)
    xp = save(x, "cx.npy")
    predicted = eager(x).argmax(1).tolist()
    for kind, step, target in (("deletion", None, None), ("insertion", 7, [1, 3])):
        def body(kind=kind, step=step, target=target):
            argv = ["--metric", kind, "--method", "guided-backprop", "--model", model,
                    "--input", xp, "--plot", path("curves.png")]
            argv += ["--step", str(step)] if step else []
            argv += ["--target", repr(target)] if target else []
            r = report(*argv)
            classes = target or predicted
            maps = reference(eager, x, classes, rule="guided")
            curves = ref_curve(eager, x, maps, classes, kind, step or 8)
            close(r["curves"], curves, torch.float64, (kind, "curve"))
            aucs = [(sum(c) - c[0] / 2 - c[-1] / 2) / (len(c) - 1) for c in curves]
            close(r["values"], aucs, torch.float64, (kind, "auc"))
            assert r["classes"] == classes and r["step"] == (step or 8), r
            assert read_png(path("curves.png")).shape[2] == 3
        check(f"{kind}: curve and AUC as RISE, step {step or 'W'}, target {target}", body)


# ------------------------------------------------------------ --image
def area_images():
    """The images form in batches: five 5 x 5 RGB PNGs. Values must not depend
    on --batch-size or --shard (generated noise included), and infidelity's
    and deletion's match the references on the images as Python decodes them,
    with image k's noise drawn as documented: seed --seed + k."""
    eager, model = make_model(Rgb, "rgb.pt", 7)
    folder = fresh_dir("images")
    gen = torch.Generator().manual_seed(11)
    names = [write_png(os.path.join(folder, f"img{k}.png"),
                       torch.randint(0, 256, (5, 5, 3), generator=gen,
                                     dtype=torch.uint8).numpy()) for k in range(5)]
    x = torch.stack([torch.from_numpy(read_png(p).copy()).permute(2, 0, 1).float() / 255
                     for p in names])

    def infidelity_batches():
        attrs = torch.randn(5, 3, 5, 5, generator=gen)
        target = [1, 0, 3, 2, 1]
        argv = ["--metric", "infidelity", "--model", model, "--image", folder, "--target",
                repr(target), "--attributions", save(attrs, "ia.npy"), "--samples", "3",
                "--noise-std", "0.05", "--seed", "7"]
        r = {b: report(*argv, "--batch-size", str(b)) for b in (1, 2, 64)}
        assert r[1]["inputs"] == names, r[1]["inputs"]
        for b in (2, 64):
            agree(r[b]["values"], r[1]["values"], ("images", "batch"))
            agree(r[b]["normalized"], r[1]["normalized"], ("images", "batch"))
        perts = torch.cat([0.05 * torch.randn((3, 3, 5, 5),
                                              generator=torch.Generator().manual_seed(7 + k))
                           for k in range(5)])
        plain, normalized = ref_infidelity(eager, [x], [attrs], [perts],
                                           [x.repeat_interleave(3, 0) - perts], target, ())
        close(r[2]["values"], plain, torch.float32, ("infidelity", "images"))
        close(r[2]["normalized"], normalized, torch.float32, ("infidelity", "images"))
    check("images infidelity: --batch-size 1, 2, 64 equal; seed + k noise as the reference",
          infidelity_batches)

    def sensitivity_shards():
        argv = ["--metric", "sensitivity-max", "--model", model, "--image", folder,
                "--target", "2", "--samples", "4", "--radius", "0.05", "--seed", "3"]
        whole = report(*argv, "--batch-size", "64")
        parts = {}
        for shard, b in (("0/2", "1"), ("1/2", "2")):
            r = report(*argv, "--shard", shard, "--batch-size", b)
            parts.update(zip(r["inputs"], r["values"]))
        assert sorted(parts) == whole["inputs"] == names, (parts, whole["inputs"])
        agree([parts[p] for p in names], whole["values"], ("images", "shard"))
    check("images sensitivity-max: --shard 0/2 + 1/2 (batches 1, 2) equal the whole run",
          sensitivity_shards)

    def mprt_batches():
        argv = ["--metric", "mprt", "--method", "saliency", "--model", model, "--image",
                folder, "--target", "1", "--seed", "2", "--strip", path("istrip.png")]
        r2, r64 = report(*argv, "--batch-size", "2"), report(*argv, "--batch-size", "64")
        assert r2["layers"] == r64["layers"] == ["fc", "conv"], r2["layers"]
        for key in ("spearman_abs", "spearman"):
            agree(r2["similarity"][key], r64["similarity"][key], ("images", "batch"))
        assert read_png(path("istrip.png")).shape[0] > 16
    check("images mprt: --batch-size 2 and 64 equal", mprt_batches)

    def deletion_manifest():
        manifest = path("evaluate.jsonl")
        argv = ["--metric", "deletion", "--model", model, "--image", folder]
        r1 = report(*argv, "--batch-size", "1", "--manifest", manifest, "--plot",
                    path("idel.png"))
        r64 = report(*argv, "--batch-size", "64")
        agree(r1["curves"], r64["curves"], ("images", "batch"))
        assert r1["classes"] == r64["classes"], (r1["classes"], r64["classes"])
        listed = [names[3], names[1]]
        with open(path("list.txt"), "w") as f:
            f.write("".join(p + "\n" for p in listed))
        r_list = report("--metric", "deletion", "--model", model, "--files-from",
                        path("list.txt"))
        assert r_list["inputs"] == listed, r_list["inputs"]
        agree(r_list["values"], [r64["values"][3], r64["values"][1]], ("images", "batch"))
        classes = eager(x).argmax(1).tolist()
        maps = reference(eager, x, classes, rule="guided")
        close(r64["curves"], ref_curve(eager, x, maps, classes, "deletion", 5), torch.float32,
              ("deletion", "images"))
        with open(manifest) as f:
            lines = [json.loads(line) for line in f]
        assert [line["input"] for line in lines] == names, lines
        for i, line in enumerate(lines):
            assert line["status"] == "ok" and line["metric"] == "deletion", line
            assert line["value"] == r1["values"][i], (line, r1["values"][i])
            assert line["targets"] == [classes[i]] and line["predicted"] == classes[i], line
            assert line["outputs"] == [path("report.json"), path("idel.png")], line
    check("images deletion: --batch-size 1 and 64 equal, the reference, the manifest, "
          "--files-from takes exactly the listed images",
          deletion_manifest)


# ---------------------------------------------------------------- errors
def area_errors():
    eager, model = make_model(Classifier, "e.pt", 1, torch.float64)
    x = save(torch.zeros(2, 2, 5, 5, dtype=torch.float64), "ex.npy")
    out = path("e.json")
    base = ["evaluate", "--model", model, "--input", x, "--output", out]
    cases = [
        (["--metric", "infidelity"], "needs one --attributions per --input"),
        (["--metric", "infidelity", "--attributions", x, "--perturbations", x],
         "one --perturbations and one --perturbed-inputs per --input"),
        (["--metric", "infidelity", "--attributions", x, "--perturbations", x,
          "--perturbed-inputs", x, "--samples", "3"], "--samples sets generated perturbations"),
        (["--metric", "infidelity", "--attributions", x, "--radius", "0.1"],
         "--radius applies to sensitivity-max"),
        (["--metric", "sensitivity-max", "--norm", "fr"], "--norm 'fr'"),
        (["--metric", "sensitivity-max", "--method", "guided-backprop", "--abs"], "--abs"),
        (["--metric", "mprt", "--normalize"], "--normalize applies to infidelity"),
        (["--metric", "mprt", "--plot", path("p.jpg")], "give a .png file"),
        (["--metric", "mprt", "--batch-size", "2"], "--batch-size applies to --image"),
        (["--metric", "mprt", "--manifest", path("m.jsonl")], "--manifest applies to --image"),
        (["--metric", "mprt", "--batch-size", "0"], "Value 0 not in range"),
        (["--metric", "mprt", "--files-from", path("l.txt")], "--files-from lists images"),
    ]

    def image_errors():
        _, rgb = make_model(Rgb, "erg.pt", 7)
        folder = fresh_dir("eimages")
        for k in range(3):
            write_png(os.path.join(folder, f"{k}.png"), np.full((5, 5, 3), 40 * k, np.uint8))
        images = ["evaluate", "--model", rgb, "--image", folder, "--output", out,
                  "--batch-size", "2"]
        expect_error(images + ["--metric", "deletion", "--target", "[1, 0]"], 1,
                     "has 2 entries for 3 images", outputs=[out])
        expect_error(images + ["--metric", "infidelity", "--target", "1", "--attributions",
                               save(torch.zeros(2, 3, 5, 5), "ea.npy")], 1,
                     "has 2 rows for 3 images", outputs=[out])
        expect_error(images + ["--metric", "deletion", "--manifest", folder], 1,
                     "--manifest", outputs=[out])
    check("images: --target list not one per image, --attributions not one row per image, "
          "--manifest a folder", image_errors)
    def strip_of_vectors():
        _, scalar = make_model(Scalar, "scalar.pt", 1, torch.float64)
        expect_error(["evaluate", "--metric", "mprt", "--model", scalar, "--input",
                      save(torch.ones(2, 6, dtype=torch.float64), "v.npy"), "--strip",
                      path("s.png"), "--output", out],
                     1, "--strip draws 2-D maps", outputs=[out, path("s.png")])
    check("mprt --strip of 1-D maps: one line, exit 1, nothing written", strip_of_vectors)

    for argv, message in cases:
        def body(argv=argv, message=message):
            expect_error(base + argv, 2, message, outputs=[out])
        check(f"usage error: {message}", body)


AREAS = {"infidelity": area_infidelity, "sensitivity": area_sensitivity,
         "mprt": area_mprt, "curves": area_curves, "images": area_images,
         "errors": area_errors}

if __name__ == "__main__":
    status = main(__doc__, AREAS, prefix="guidedbp_evaluate_test_")
    for key, diff in sorted(MAX_DIFF.items()):
        print(f"largest relative difference {key}: {diff:.3g}")
    sys.exit(status)
