#!/usr/bin/python3
"""End-to-end tests of torch.export models: `guidedbp export`, then `guidedbp attribute
--model PKG.pt2` and guidedbp::CompiledAttribution (tests/compiled_test.cpp), against an
independent float64 reference on the eager model (issue 18).

Each AOTInductor compile takes 20-60 s, so the packages are made once in setup and shared
by every check: a small CNN in float64 for the three methods, and the shipped
Fashion-MNIST model (float32) for Guided Backprop. With LibTorch < 2.6 (Debian 12) only
the `unsupported` area runs: a package is one clear error naming the version needed.

Usage: export_test.py --cli build/guidedbp --libtorch-version 2.6.0 --compiled-tests BIN
"""
import glob
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import numpy as np  # noqa: E402
from harness import (ARGS, check, expect_error, load, main, path, read_png, run,  # noqa: E402
                     save, shipped)

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


def reference(model, x, target, rule):
    """float64 eager attribution: every F.relu (nn.ReLU calls it too) answers by `rule`;
    target: an int, or a list with one index per example."""
    model = model.double()
    x = x.double().clone().requires_grad_(True)
    original = F.relu
    F.relu = lambda i, inplace=False: _Rule.apply(i, rule)
    try:
        y = model(x)
    finally:
        F.relu = original
    if isinstance(target, list):
        selected = y[torch.arange(len(target)), torch.tensor(target)]
    else:
        selected = y[:, target]
    (grad,) = torch.autograd.grad(selected.sum(), x)
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
    fashion = fashion_model()
    models = {
        "small": (small, export_program(small, torch.randn(2, 2, 5, 5, dtype=torch.float64),
                                        "small_ep.pt2")),
        "fashion": (fashion, export_program(fashion, torch.rand(2, 1, 28, 28), "fashion_ep.pt2")),
    }
    packages = {}
    for key, model, method in [("gbp64", "small", "guided-backprop"),
                               ("deconv64", "small", "deconvolution"),
                               ("saliency64", "small", "saliency"),
                               ("fashion_gbp", "fashion", "guided-backprop")]:
        started = time.monotonic()
        run("export", "--model", models[model][1], "--method", method,
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


def area_errors(ctx):
    if not SUPPORTED:
        return
    gbp = ctx["packages"]["gbp64"]
    x = save(torch.randn(2, 2, 5, 5, dtype=torch.float64), "e.npy")
    out = path("e_out.npy")
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
    check("export: a method that cannot be exported is a usage error", lambda: expect_error(
        ["export", "--model", ctx["models"]["small"][1], "--method", "guided-gradcam",
         "--output", pkg], 2, "guided-gradcam", outputs=[pkg]))
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

    def go():
        import subprocess
        proc = subprocess.run([ARGS.compiled_tests, "--gtest_brief=1"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    check("CompiledAttribution (tests/compiled_test.cpp)", go)


def area_serve(ctx):
    """guidedbp serve with a package: :predict, :explain (JSON), and a request for
    another method refused."""
    if not SUPPORTED:
        return
    import http.client
    import json
    import re
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
