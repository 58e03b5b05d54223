#!/usr/bin/python3
"""End-to-end tests of torch.export models: `guidedbp export`, then `guidedbp attribute
--model PKG.pt2` and guidedbp::CompiledAttribution (tests/compiled_test.cpp), against an
independent float64 reference on the eager model (issue 18).

Each AOTInductor compile takes 20-60 s, so the packages are made once in setup and shared
by every check: a small CNN in float64 for the three methods, a second one (Cam, whose
layer `down` halves the image) for Guided Grad-CAM and Neuron Guided Backprop, and the
shipped Fashion-MNIST model (float32) for Guided Backprop. With LibTorch < 2.6 (Debian 12) only
the `unsupported` area runs: a package is one clear error naming the version needed.

Usage: export_test.py --cli build/guidedbp --libtorch-version 2.6.0 --compiled-tests BIN
"""
import contextlib
import glob
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import numpy as np  # noqa: E402
from harness import (ARGS, check, expect_error, load, main, path, read_png, run,  # noqa: E402
                     save, shipped, write_png)

SUPPORTED = False  # LibTorch >= 2.6, set in setup()
RTOL64 = 1e-10
RTOL32 = 1e-5


class Small(nn.Module):
    """N x 2 x 5 x 5 -> N x 3: a module ReLU and a functional one."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 5 * 5, 3)

    def forward(self, x):
        x = self.relu(self.conv(x))
        x = F.relu(x * 1.5 - 0.1)
        return self.fc(torch.flatten(x, 1))


class Cam(nn.Module):
    """N x 3 x 6 x 6 -> N x 3; layer `down` gives N x 3 x 3 x 3 (a Grad-CAM map to
    upsample), with ReLUs before it, after it (an in-place module, as vgg's: the
    map is made of the layer's output before that ReLU, as in Captum) and a
    functional one."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.down = nn.Conv2d(4, 3, 3, stride=2, padding=1)
        self.relu2 = nn.ReLU(inplace=True)
        self.fc = nn.Linear(3 * 3 * 3, 3)

    def forward(self, x):
        x = self.relu2(self.down(self.relu(self.conv(x))))
        x = F.relu(x * 1.5 - 0.1)
        return self.fc(torch.flatten(x, 1))


# ------------------------------------------------------------ the reference
class _Rule(torch.autograd.Function):
    """relu with the backward of a method, written from the formulas."""

    @staticmethod
    def forward(ctx, x, rule):
        ctx.save_for_backward(x)
        ctx.rule = rule
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.rule == "guided":
            return g.clamp(min=0) * (x > 0), None
        if ctx.rule == "deconvolution":
            return g.clamp(min=0), None
        return g * (x > 0), None


@contextlib.contextmanager
def relus_answering(rule):
    """While active, every F.relu (nn.ReLU calls it too) answers by `rule`."""
    original = F.relu
    F.relu = lambda i, inplace=False: _Rule.apply(i, rule)
    try:
        yield
    finally:
        F.relu = original


def reference(model, x, target, rule):
    """float64 eager attribution: every F.relu (nn.ReLU calls it too) answers by `rule`;
    target: an int, or a list with one index per example."""
    model = model.double()
    x = x.double().clone().requires_grad_(True)
    with relus_answering(rule):
        y = model(x)
    if isinstance(target, list):
        selected = y[torch.arange(len(target)), torch.tensor(target)]
    else:
        selected = y[:, target]
    (grad,) = torch.autograd.grad(selected.sum(), x)
    return grad


def with_layer(model, x, rule, layer):
    """(output, the output of submodule `layer`) of a float64 forward pass whose
    ReLUs answer by `rule`."""
    captured = []
    handle = getattr(model, layer).register_forward_hook(
        lambda _m, _i, out: captured.append(out))
    try:
        with relus_answering(rule):
            y = model(x)
    finally:
        handle.remove()
    return y, captured[0]


def nearest(cam, size):
    """Nearest upsampling from the formula: output index i reads input index
    floor(i * in / out) (PyTorch's 'nearest', Captum's default)."""
    for dim, out in zip((2, 3), size):
        n = cam.shape[dim]
        index = torch.tensor([min(int(i * n / out), n - 1) for i in range(out)])
        cam = cam.index_select(dim, index)
    return cam


def grad_cam_reference(model, x, target, layer):
    """Guided Grad-CAM (Selvaraju et al.) in float64: Guided Backprop times the
    relu of the layer's channels weighted by the spatial mean of their plain
    gradient, upsampled to the input; returns (attribution, map)."""
    model = model.double()
    x = x.double()
    leaf = x.clone().requires_grad_(True)
    y, activations = with_layer(model, leaf, "plain", layer)
    selected = y[:, target] if not isinstance(target, list) else \
        y[torch.arange(len(target)), torch.tensor(target)]
    (gradient,) = torch.autograd.grad(selected.sum(), activations)
    weights = gradient.mean((2, 3), keepdim=True)
    cam = (weights * activations).sum(1, keepdim=True).clamp(min=0).detach()
    return reference(model, x, target, "guided") * nearest(cam, x.shape[2:]), cam


def neuron_reference(model, x, neuron, layer, rule):
    """float64 gradient of the layer's selected neurons (summed over the batch,
    and over a range) with respect to the input; `neuron`: a tuple of ints
    and slices without the batch dimension."""
    model = model.double()
    leaf = x.double().clone().requires_grad_(True)
    _, activations = with_layer(model, leaf, rule, layer)
    (grad,) = torch.autograd.grad(activations[(slice(None),) + tuple(neuron)].sum(), leaf)
    return grad


def assert_rel(actual, expected, rtol, what):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    diff = (actual.double() - expected.double()).abs().max().item()
    scale = expected.abs().max().item()
    assert diff <= rtol * scale, f"{what}: max difference {diff:.3g} > {rtol} x {scale:.3g}"
    MAX_REL[what.split(" ")[0]] = max(MAX_REL.get(what.split(" ")[0], 0.0),
                                      diff / scale if scale else diff)


MAX_REL = {}


# ------------------------------------------------------------------ setup
def export_program(model, example, name):
    ep = torch.export.export(model, (example,),
                             dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(ep, path(name))
    return path(name)


def fashion_model():
    sys.path.insert(0, os.path.join(ARGS.source_dir, "examples", "fashion_mnist"))
    from train import FashionCNN
    model = FashionCNN(0.0, 1.0)
    scripted = torch.jit.load(os.path.join(ARGS.source_dir, "examples", "fashion_mnist",
                                           "model.pt"))
    model.load_state_dict(scripted.state_dict())
    return model.eval()


def setup():
    global SUPPORTED
    major_minor = tuple(int(p) for p in ARGS.libtorch_version.split(".")[:2])
    SUPPORTED = major_minor >= (2, 6)
    if not SUPPORTED:
        print(f"skip: LibTorch {ARGS.libtorch_version} < 2.6 has no AOTInductor packages; "
              "only the `unsupported` checks run", flush=True)
        return {}
    torch.manual_seed(0)
    small = Small().double().eval()
    cam = Cam().double().eval()
    fashion = fashion_model()
    models = {
        "small": (small, export_program(small, torch.randn(2, 2, 5, 5, dtype=torch.float64),
                                        "small_ep.pt2")),
        "cam": (cam, export_program(cam, torch.randn(2, 3, 6, 6, dtype=torch.float64),
                                    "cam_ep.pt2")),
        "fashion": (fashion, export_program(fashion, torch.rand(2, 1, 28, 28), "fashion_ep.pt2")),
    }
    packages = {}
    for key, model, method, layer in [("gbp64", "small", "guided-backprop", None),
                                      ("deconv64", "small", "deconvolution", None),
                                      ("saliency64", "small", "saliency", None),
                                      ("ggc64", "cam", "guided-gradcam", "down"),
                                      ("ngbp64", "cam", "neuron-guided-backprop", "down"),
                                      ("fashion_gbp", "fashion", "guided-backprop", None)]:
        started = time.monotonic()
        # One package is compiled for one thread, as a one-thread worker runs it.
        run("export", "--model", models[model][1], "--method", method,
            *(["--layer", layer] if layer else []), *(["--threads", "1"] if key == "gbp64" else []),
            "--output", path(key + ".pt2"), expect=0, timeout=600)
        print(f"     export {key}: {time.monotonic() - started:.1f} s", flush=True)
        packages[key] = path(key + ".pt2")
    return {"models": models, "packages": packages}


# ------------------------------------------------------------------ areas
def area_methods(ctx):
    if not SUPPORTED:
        return
    small = ctx["models"]["small"][0]
    torch.manual_seed(1)

    def method(key, rule):
        def go():
            # Batches other than the traced one (6), 1 included.
            for batch, target in [(1, 2), (3, [0, 2, 1]), (7, 1)]:
                x = torch.randn(batch, 2, 5, 5, dtype=torch.float64)
                literal = str(target).replace(" ", "")
                run("attribute", "--model", ctx["packages"][key], "--input", save(x, "x.npy"),
                    "--target", literal, "--output", path("a.npy"), expect=0)
                assert_rel(load(path("a.npy")), reference(small, x, target, rule), RTOL64,
                           f"{key} batch {batch}")
        return go

    check("gbp float64 equals the reference at batches 1, 3, 7",
          method("gbp64", "guided"))
    check("deconvolution float64 equals the reference", method("deconv64", "deconvolution"))
    check("saliency float64 (signed) equals the reference", method("saliency64", "plain"))

    def k_targets():
        x = torch.randn(4, 2, 5, 5, dtype=torch.float64)
        run("attribute", "--model", ctx["packages"]["gbp64"], "--input", save(x, "x.npy"),
            "--target", "0", "--target", "2", "--output", path("k.npy"), expect=0)
        got = load(path("k.npy"))
        assert got.shape == (2, 4, 2, 5, 5), got.shape
        for k, t in enumerate([0, 2]):
            assert_rel(got[k], reference(small, x, t, "guided"), RTOL64, f"gbp64 K target {t}")
    check("K targets: one package call, stacked", k_targets)

    cam = ctx["models"]["cam"][0]

    def guided_gradcam():
        # Exported at batch 2 and traced at 5; run at 1, 3 and 7, with K targets.
        for batch, target in [(1, 2), (3, [0, 2, 1]), (7, 1)]:
            x = torch.randn(batch, 3, 6, 6, dtype=torch.float64)
            run("attribute", "--model", ctx["packages"]["ggc64"], "--input", save(x, "g.npy"),
                "--target", str(target).replace(" ", ""), "--output", path("ga.npy"), expect=0)
            assert_rel(load(path("ga.npy")), grad_cam_reference(cam, x, target, "down")[0],
                       RTOL64, f"ggc64 batch {batch}")
        x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
        run("attribute", "--model", ctx["packages"]["ggc64"], "--input", save(x, "g.npy"),
            "--target", "0", "--target", "2", "--layer", "down", "--output", path("gk.npy"),
            expect=0)
        got = load(path("gk.npy"))
        for k, t in enumerate([0, 2]):
            assert_rel(got[k], grad_cam_reference(cam, x, t, "down")[0], RTOL64,
                       f"ggc64 K target {t}")
    check("guided-gradcam float64 equals Guided Backprop times the upsampled Grad-CAM map",
          guided_gradcam)

    def neuron():
        for batch, literal, neuron_index in [
                (3, "(1,2,0)", (1, 2, 0)),
                (1, "(0:2,1,1)", (slice(0, 2), 1, 1)),
                (7, "(2,-1,0:2)", (2, -1, slice(0, 2)))]:
            x = torch.randn(batch, 3, 6, 6, dtype=torch.float64)
            run("attribute", "--model", ctx["packages"]["ngbp64"], "--input",
                save(x, "n.npy"), "--neuron", literal, "--output", path("na.npy"), expect=0)
            assert_rel(load(path("na.npy")),
                       neuron_reference(cam, x, neuron_index, "down", "guided"), RTOL64,
                       f"ngbp64 batch {batch}")
    check("neuron-guided-backprop float64 equals the reference for --neuron ints and ranges",
          neuron)

    def fashion():
        model = ctx["models"]["fashion"][0]
        for batch, target in [(1, 3), (3, [0, 9, 4])]:
            x = torch.rand(batch, 1, 28, 28)
            run("attribute", "--model", ctx["packages"]["fashion_gbp"], "--input",
                save(x, "f.npy"), "--target", str(target).replace(" ", ""), "--output",
                path("fa.npy"), expect=0)
            got = load(path("fa.npy"))
            assert got.dtype == torch.float32
            assert_rel(got, reference(model, x, target, "guided"), RTOL32,
                       f"fashion batch {batch}")
    check("Fashion-MNIST float32 from its Python definition equals the float64 reference",
          fashion)

    def explain():
        model = ctx["models"]["fashion"][0]
        image = shipped()[1][0]
        out_dir = path("explain_pkg")
        run("explain", "--model", ctx["packages"]["fashion_gbp"], "--target", "3",
            "--save-raw", "--out-dir", out_dir, image, expect=0)
        raws = glob.glob(os.path.join(out_dir, "*.npy"))
        assert len(raws) == 1, raws
        pixels = read_png(image).astype("float32") / 255
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None]
        got = torch.from_numpy(np.load(raws[0]))
        assert_rel(got, reference(model, x, 3, "guided"), RTOL32, "fashion explain")
    check("explain --model PKG.pt2 equals the reference", explain)

    def explain_gradcam():
        generator = torch.Generator().manual_seed(3)
        pixels = torch.randint(0, 256, (6, 6, 3), generator=generator, dtype=torch.uint8)
        image = write_png(path("cam.png"), pixels.numpy())
        out_dir = path("explain_ggc")
        run("explain", "--model", ctx["packages"]["ggc64"], "--target", "1", "--save-raw",
            "--gradcam-map", "--out-dir", out_dir, image, expect=0)
        raws = glob.glob(os.path.join(out_dir, "*.npy"))
        pngs = glob.glob(os.path.join(out_dir, "*.png"))
        assert len(raws) == 1 and len(pngs) == 2, (raws, pngs)
        x = (pixels.float() / 255).permute(2, 0, 1)[None]
        got = torch.from_numpy(np.load(raws[0]))
        assert_rel(got, grad_cam_reference(cam, x, 1, "down")[0].float(), RTOL32,
                   "ggc64 explain")
    check("explain draws a guided-gradcam package (map and Grad-CAM PNG)", explain_gradcam)


def area_errors(ctx):
    if not SUPPORTED:
        return
    gbp = ctx["packages"]["gbp64"]
    x = save(torch.randn(2, 2, 5, 5, dtype=torch.float64), "e.npy")
    out = path("e_out.npy")
    def threads_recorded():
        meta = torch._inductor.aoti_load_package(gbp).get_metadata()
        if meta.get("guidedbp.threads") != "1":
            raise AssertionError(f"guidedbp.threads is {meta.get('guidedbp.threads')!r}, not '1'")
    check("export --threads is compiled in and recorded", threads_recorded)
    check("export --threads 0 is a usage error", lambda: expect_error(
        ["export", "--model", ctx["models"]["small"][1], "--method", "guided-backprop",
         "--threads", "0", "--output", path("t0.pt2")], 2, "--threads", outputs=[path("t0.pt2")]))
    check("a conflicting --method names the package's method", lambda: expect_error(
        ["attribute", "--model", gbp, "--input", x, "--method", "saliency", "--output", out],
        2, ["--method saliency", "guided-backprop"], outputs=[out]))
    check("--abs on a signed saliency package says to export with --abs", lambda: expect_error(
        ["attribute", "--model", ctx["packages"]["saliency64"], "--input", x, "--abs",
         "--target", "0", "--output", out], 2, "export it with --abs", outputs=[out]))
    check("a float32 input to a float64 package", lambda: expect_error(
        ["attribute", "--model", gbp, "--input",
         save(torch.randn(2, 2, 5, 5), "e32.npy"), "--target", "0", "--output", out],
        1, ["Float", "Double"], outputs=[out]))
    check("a wrong input shape names the package's", lambda: expect_error(
        ["attribute", "--model", gbp, "--input",
         save(torch.randn(2, 2, 5, 6, dtype=torch.float64), "es.npy"), "--target", "0",
         "--output", out], 1, ["[N, 2, 5, 5]", "only the batch"], outputs=[out]))
    check("a target past the output", lambda: expect_error(
        ["attribute", "--model", gbp, "--input", x, "--target", "3", "--output", out],
        1, "3", outputs=[out]))
    check("an ExportedProgram given to attribute says to compile it", lambda: expect_error(
        ["attribute", "--model", ctx["models"]["small"][1], "--input", x, "--target", "0",
         "--output", out], 1, "guidedbp export", outputs=[out]))
    pkg = path("never.pt2")
    check("export: a layer method without --layer is a usage error", lambda: expect_error(
        ["export", "--model", ctx["models"]["small"][1], "--method", "guided-gradcam",
         "--output", pkg], 2, ["guided-gradcam", "--layer"], outputs=[pkg]))
    check("export: an unknown --layer lists the model's layers", lambda: expect_error(
        ["export", "--model", ctx["models"]["cam"][1], "--method", "neuron-deconvolution",
         "--layer", "layer4", "--output", pkg], 1, ["layer4", "conv, relu, down"],
        outputs=[pkg]))
    ggc, ngbp = ctx["packages"]["ggc64"], ctx["packages"]["ngbp64"]
    xc = save(torch.randn(2, 3, 6, 6, dtype=torch.float64), "ec.npy")
    check("--layer other than the package's names the package's layer", lambda: expect_error(
        ["attribute", "--model", ggc, "--input", xc, "--target", "0", "--layer", "conv",
         "--output", out], 2, ["--layer conv", "whose layer is down"], outputs=[out]))
    check("a neuron package needs --neuron and refuses --target", lambda: (
        expect_error(["attribute", "--model", ngbp, "--input", xc, "--output", out], 2,
                     "--neuron", outputs=[out]),
        expect_error(["attribute", "--model", ngbp, "--input", xc, "--neuron", "(0,0,0)",
                      "--target", "0", "--output", out], 2, "--target", outputs=[out])))
    check("--neuron on a package of an input method", lambda: expect_error(
        ["attribute", "--model", gbp, "--input", x, "--neuron", "(0,0,0)", "--output", out],
        2, "--neuron", outputs=[out]))
    check("a neuron past the package's layer shape", lambda: expect_error(
        ["attribute", "--model", ngbp, "--input", xc, "--neuron", "(3,0,0)", "--output", out],
        1, "3", outputs=[out]))
    check("--attribute-to-neuron-input is not compiled into a package", lambda: expect_error(
        ["attribute", "--model", ngbp, "--input", xc, "--neuron", "(0,0,0)",
         "--attribute-to-neuron-input", "--output", out], 2,
        ["--attribute-to-neuron-input", "layer down"], outputs=[out]))
    check("serve refuses a package of a method it does not offer", lambda: expect_error(
        ["serve", "--port", "0", "--model", "g=" + ggc], 2,
        ["guided-gradcam", "serve does not offer"]))
    check("explain refuses a neuron package and --gradcam-map without a map", lambda: (
        expect_error(["explain", "--model", ngbp, "--out-dir", path("en"),
                      shipped()[1][0]], 2, ["neuron-guided-backprop", "attribute --neuron"]),
        expect_error(["explain", "--model", gbp, "--gradcam-map", "--out-dir", path("en"),
                      shipped()[1][0]], 2, ["--gradcam-map", "guided-gradcam"])))
    check("export: a file that is no ExportedProgram", lambda: expect_error(
        ["export", "--model", x, "--method", "saliency", "--output", pkg], 1,
        "not an ExportedProgram", outputs=[pkg]))
    check("export: --output must end in .pt2", lambda: expect_error(
        ["export", "--model", ctx["models"]["small"][1], "--method", "saliency",
         "--output", path("p.zip")], 2, ".pt2"))


def area_library(ctx):
    """tests/compiled_test.cpp: CompiledAttribution's API on the float64 package, with
    references written here."""
    env = dict(os.environ)
    if SUPPORTED:
        small = ctx["models"]["small"][0]
        torch.manual_seed(2)
        x = torch.randn(4, 2, 5, 5, dtype=torch.float64)
        folder = os.path.dirname(path("x"))
        torch.save(x, os.path.join(folder, "lib_x.pt"))
        torch.save(reference(small, x, 1, "guided"), os.path.join(folder, "lib_t1.pt"))
        torch.save(reference(small, x, [2, 0, 1, 1], "guided"),
                   os.path.join(folder, "lib_per_example.pt"))
        torch.save(small.double()(x).detach(), os.path.join(folder, "lib_output.pt"))
        env["GUIDEDBP_TEST_PACKAGE"] = ctx["packages"]["gbp64"]
        env["GUIDEDBP_TEST_DATA"] = folder
        # The layer packages (Cam, layer down).
        cam = ctx["models"]["cam"][0]
        xc = torch.randn(4, 3, 6, 6, dtype=torch.float64)
        torch.save(xc, os.path.join(folder, "lib_cx.pt"))
        attribution, grad_cam = grad_cam_reference(cam, xc, 1, "down")
        torch.save(attribution, os.path.join(folder, "lib_ggc_t1.pt"))
        torch.save(grad_cam, os.path.join(folder, "lib_ggc_map.pt"))
        torch.save(neuron_reference(cam, xc, (1, 2, 0), "down", "guided"),
                   os.path.join(folder, "lib_n_tuple.pt"))
        torch.save(neuron_reference(cam, xc, (slice(0, 2), 1, 1), "down", "guided"),
                   os.path.join(folder, "lib_n_range.pt"))
        leaf = xc.clone().requires_grad_(True)
        _, layer = with_layer(cam.double(), leaf, "guided", "down")
        torch.save(torch.autograd.grad((layer[:, 1, 1, 1] * layer[:, 0, 0, 0]).sum(), leaf)[0],
                   os.path.join(folder, "lib_n_callable.pt"))
        torch.save(layer.detach(), os.path.join(folder, "lib_n_layer.pt"))
        env["GUIDEDBP_TEST_GGC_PACKAGE"] = ctx["packages"]["ggc64"]
        env["GUIDEDBP_TEST_NEURON_PACKAGE"] = ctx["packages"]["ngbp64"]

    def go():
        import subprocess
        proc = subprocess.run([ARGS.compiled_tests, "--gtest_brief=1"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # With packages, every test runs (CompiledUnsupportedTest skips itself).
        skipped = re.search(r"SKIPPED \] (\d+) test", proc.stdout)
        assert not SUPPORTED or (skipped and skipped.group(1) == "1"), proc.stdout
    check("CompiledAttribution (tests/compiled_test.cpp)", go)


def area_serve(ctx):
    """guidedbp serve with a package: :predict, :explain (JSON), and a request for
    another method refused."""
    if not SUPPORTED:
        return
    import http.client
    import json
    import signal
    import subprocess
    model = ctx["models"]["fashion"][0]
    log_path = path("serve.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([ARGS.cli, "serve", "--port", "0", "--model",
                                 "f=" + ctx["packages"]["fashion_gbp"]],
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            m = re.search(r"on http://[^:]+:(\d+)/", open(log_path).read())
            port = int(m.group(1)) if m else time.sleep(0.05)

        def post(url, body):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("POST", url, body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                return r.status, json.loads(r.read())
            finally:
                conn.close()

        def started():
            assert port, "serve did not start: " + open(log_path).read()
        check("serve starts with a package", started)
        x = torch.rand(2, 1, 28, 28)

        def predict():
            status, out = post("/v1/models/f:predict", {"instances": x.tolist()})
            assert status == 200, out
            with torch.no_grad():
                expected = model.double()(x.double())
            assert_rel(torch.tensor(out["predictions"], dtype=torch.float64), expected,
                       RTOL32, "serve predict")
        check("serve :predict with a package equals the model", predict)

        def explain():
            status, out = post("/v1/models/f:explain",
                               {"instances": x.tolist(), "parameters": {"target": 3}})
            assert status == 200, out
            assert_rel(torch.tensor(out["explanations"]), reference(model, x, 3, "guided"),
                       RTOL32, "serve explain")
        check("serve :explain with a package equals the reference", explain)

        def other_method():
            status, out = post("/v1/models/f:explain", {
                "instances": x.tolist(), "parameters": {"target": 3, "method": "saliency"}})
            assert status == 400 and "computes guided-backprop" in json.dumps(out), (status, out)
        check("serve: a request for another method than the package's is refused", other_method)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def area_unsupported(ctx):
    if SUPPORTED:
        return
    fake = path("fake.pt2")
    with open(fake, "wb") as f:
        f.write(b"PK\x05\x06" + b"\0" * 18)
    x = save(torch.randn(1, 2, 5, 5), "u.npy")
    out = path("u_out.npy")
    check("LibTorch < 2.6: a package given to attribute is one clear error", lambda: expect_error(
        ["attribute", "--model", fake, "--input", x, "--output", out], 1,
        ["LibTorch >= 2.6", ARGS.libtorch_version.split("+")[0][:4]], outputs=[out]))
    check("LibTorch < 2.6: export is one clear error", lambda: expect_error(
        ["export", "--model", fake, "--method", "saliency", "--output", path("o.pt2")], 1,
        "LibTorch >= 2.6", outputs=[path("o.pt2")]))


def report(ctx):
    for what, rel in sorted(MAX_REL.items()):
        print(f"     max relative difference {what}: {rel:.3g}", flush=True)


AREAS = {"methods": area_methods, "errors": area_errors, "library": area_library,
         "serve": area_serve,
         "unsupported": area_unsupported, "report": report}


def add_arguments(parser):
    parser.add_argument("--libtorch-version", required=True)
    parser.add_argument("--compiled-tests", required=True,
                        help="the tests/compiled_test.cpp executable")


if __name__ == "__main__":
    sys.exit(main(__doc__, AREAS, setup=setup, add_arguments=add_arguments,
                  prefix="guidedbp_export_"))
