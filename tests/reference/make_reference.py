#!/usr/bin/python3
"""Writes the reference data of tests/reference_test.cpp.

Each case is a small EAGER model with seeded random weights. Its expected
attributions come from torch_reference.py (an autograd.Function replacing every
relu call), never from guidedbp. For each case NAME this writes, into OUTDIR:

  NAME.model.pt  the model as TorchScript (scripted or traced), eval mode;
  NAME.data.pt   a scripted "container" module whose attributes hold:
                 input0.. / num_inputs, extra0.. / num_extra (tensors, ints,
                 floats), target_kind (none / index / tuple / per_example /
                 per_example_tuples / tensor) and target_values (int64 tensor),
                 plain0.., guided0.., deconvolution0.. (expected attributions,
                 one per input) and relu_count (relu calls the reference saw).

Usage (always Debian's interpreter, which has torch):
  /usr/bin/python3 tests/reference/make_reference.py
      writes the committed cases into tests/reference/data/;
  /usr/bin/python3 tests/reference/make_reference.py --torchvision OUTDIR
      writes torchvision resnet18 (scripted and traced), vgg11 and
      mobilenet_v2 (scripted) with random weights into OUTDIR (CTest fixture);
      skipped when OUTDIR already holds data from this same script.
"""

import argparse
import os
import sys

import stamp

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "data")
SCRIPTS = ("make_reference.py", "torch_reference.py")
TORCHVISION_NAMES = ("resnet18_scripted", "resnet18_traced", "vgg11_scripted",
                     "mobilenet_v2_scripted")


def _up_to_date(outdir):
    return stamp.is_current(outdir, SCRIPTS) and all(
        os.path.exists(os.path.join(outdir, name + suffix))
        for name in TORCHVISION_NAMES for suffix in (".model.pt", ".data.pt"))


# Checked before importing torch, so an up-to-date fixture costs ~0.1 s.
if __name__ == "__main__":
    _parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _parser.add_argument("outdir", nargs="?", default=DEFAULT_OUT,
                         help="folder for the committed cases (default: %(default)s)")
    _parser.add_argument("--torchvision", metavar="OUTDIR",
                         help="write the torchvision cases into OUTDIR instead")
    _parser.add_argument("--force", action="store_true",
                         help="regenerate the torchvision cases even when up to date")
    ARGS = _parser.parse_args()
    if ARGS.torchvision and not ARGS.force and _up_to_date(ARGS.torchvision):
        print(f"make_reference: {ARGS.torchvision} is up to date")
        sys.exit(0)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, HERE)
from torch_reference import RULES, attribute  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


# --------------------------------------------------------------------------
# Models. Each forward uses relu return values (the reference's relu_ returns
# a new tensor).
# --------------------------------------------------------------------------


class ConvNetOneConv(nn.Module):
    """Captum's BasicModel_ConvNet_One_Conv (captum/testing/helpers/basic_models.py)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, 1)
        self.relu1 = nn.ReLU()
        self.fc1 = nn.Linear(8, 4)
        self.relu2 = nn.ReLU()
        with torch.no_grad():
            self.conv1.weight.copy_(torch.ones(2, 1, 3, 3))
            self.conv1.bias.copy_(torch.tensor([-50.0, -75.0]))
            self.fc1.weight.copy_(torch.cat([torch.ones(4, 5), -1 * torch.ones(4, 3)], dim=1))
            self.fc1.bias.zero_()

    def forward(self, x):
        x = self.relu1(self.conv1(x))
        x = x.view(-1, 8)
        return self.relu2(self.fc1(x))


class FunctionalRelu(nn.Module):
    """F.relu, torch.relu and Tensor.relu, no ReLU module."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.fc1 = nn.Linear(3 * 4 * 4, 6)
        self.fc2 = nn.Linear(6, 3)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x).relu() - 0.1 * x.sum(1, keepdim=True)


class InplaceRelu(nn.Module):
    """Tensor.relu_, F.relu(inplace=True) and nn.ReLU(inplace=True)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(5, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(8, 8)
        self.relu = nn.ReLU(inplace=True)
        self.fc4 = nn.Linear(8, 4)

    def forward(self, x):
        x = self.fc1(x).relu_()
        x = F.relu(self.fc2(x), inplace=True)
        x = self.relu(self.fc3(x))
        return self.fc4(x)


class SharedRelu(nn.Module):
    """One nn.ReLU module applied twice."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(8, 4)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class Residual(nn.Module):
    """Two residual blocks (a ReLU before and after the skip add)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1)
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.relu(self.stem(x))
        x = self.relu(x + self.conv1(x))
        x = F.relu(x + self.conv2(x))
        return self.fc(x.mean((2, 3)))


class MaxPool(nn.Module):
    """ReLU then max pooling (the pooled gradient goes to one window entry)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(3 * 3 * 3, 6)
        self.fc2 = nn.Linear(6, 3)

    def forward(self, x):
        x = self.pool(self.relu(self.conv(x)))
        x = self.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class BatchNorm(nn.Module):
    """Conv, BatchNorm2d (eval, non-trivial running stats), ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 3 * 3, 3)
        with torch.no_grad():
            self.bn.running_mean.copy_(torch.randn(4) * 0.5)
            self.bn.running_var.copy_(torch.rand(4) * 2 + 0.25)
            self.bn.weight.copy_(torch.randn(4))
            self.bn.bias.copy_(torch.randn(4) * 0.5)

    def forward(self, x):
        x = self.relu(self.bn(self.conv(x)))
        return self.fc(x.flatten(1))


class MultiInput(nn.Module):
    """Two inputs of different shapes; output (N, 3, 4)."""

    def __init__(self):
        super().__init__()
        self.fc_a = nn.Linear(4, 8)
        self.fc_b = nn.Linear(6, 8)
        self.fc_h = nn.Linear(8, 8)
        self.fc_out = nn.Linear(8, 12)

    def forward(self, a, b):
        h = F.relu(self.fc_a(a)) + F.relu(self.fc_b(b.flatten(1)))
        return self.fc_out(F.relu(self.fc_h(h))).view(-1, 3, 4)


class ExtraArgs(nn.Module):
    """Additional forward arguments: a tensor, a float and an int."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(8, 3)

    def forward(self, x, mask: torch.Tensor, scale: float, shift: int):
        h = F.relu(self.fc1(x * mask))
        h = F.relu(self.fc2(h) + shift)
        return self.fc3(h) * scale


class ScalarOutput(nn.Module):
    """One value per example: (N,) when squeeze, else (N, 1)."""

    def __init__(self, squeeze: bool):
        super().__init__()
        self.squeeze = squeeze
        self.fc1 = nn.Linear(5, 8)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(8, 1)

    def forward(self, x):
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        x = self.fc3(x)
        if self.squeeze:
            return x.squeeze(1)
        return x


class Conv1dOutput(nn.Module):
    """A 3-D output (N, C, L): needs a tuple target."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(2, 6, 3, padding=1)
        self.conv2 = nn.Conv1d(6, 6, 3, padding=1)
        self.conv3 = nn.Conv1d(6, 3, 3, padding=1)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.conv3(x)


class NoRelu(nn.Module):
    """ReLU6 (hardtanh) and tanh only: Captum treats it as having no ReLU."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(5, 8)
        self.act = nn.ReLU6()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.act(self.fc1(x) * 4)))


# --------------------------------------------------------------------------
# Cases.
# --------------------------------------------------------------------------


def _case(name, seed, make_model, make_inputs, target_kind, target, extra=(),
          export="script", dtype=torch.float32):
    return dict(name=name, seed=seed, make_model=make_model, make_inputs=make_inputs,
                target_kind=target_kind, target=target, extra=extra, export=export,
                dtype=dtype)


def _randn(*shape):
    return lambda: [torch.randn(*shape)]


def committed_cases():
    return [
        # Captum's own example (captum tests/attr/test_guided_backprop.py,
        # test_deconvolution.py): values checked against Captum's published ones.
        _case("convnet_one_conv", 1, ConvNetOneConv,
              lambda: [1.0 * torch.arange(16).view(1, 1, 4, 4)], "index", 0),
        _case("relu_modules", 2,
              lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8),
                                    nn.ReLU(), nn.Linear(8, 4)),
              _randn(3, 6), "per_example", [3, 0, 2]),
        _case("functional_relu", 3, FunctionalRelu, _randn(2, 2, 4, 4), "index", 2,
              export="trace"),
        _case("inplace_relu", 4, InplaceRelu, _randn(3, 5), "index", -1),
        _case("shared_relu", 5, SharedRelu, _randn(1, 6), "tensor", torch.tensor(1),
              export="trace"),
        _case("residual", 6, Residual, _randn(2, 2, 5, 5), "tensor",
              torch.tensor([2, 0])),
        _case("maxpool", 7, MaxPool, _randn(3, 1, 6, 6), "per_example", [1, 0, 2],
              export="trace"),
        _case("batchnorm", 8, BatchNorm, _randn(2, 2, 5, 5), "per_example", [2, 1],
              dtype=torch.float64),
        _case("multi_input", 9, MultiInput,
              lambda: [torch.randn(2, 4), torch.randn(2, 2, 3)],
              "per_example_tuples", [(0, 1), (2, -1)]),
        _case("extra_args", 10, ExtraArgs, _randn(2, 6), "index", 1,
              extra=(lambda: (torch.randint(0, 2, (2, 6)).float() + 0.5, 0.75, 1))),
        _case("target_none_vector", 11, lambda: ScalarOutput(True), _randn(3, 5),
              "none", None),
        _case("target_none_column", 12, lambda: ScalarOutput(False), _randn(2, 5),
              "none", None, export="trace"),
        _case("target_tuple_3d", 13, Conv1dOutput, _randn(2, 2, 6), "tuple", (1, -2),
              dtype=torch.float64),
        _case("no_relu", 14, NoRelu, _randn(2, 5), "index", 0),
    ]


# Captum's expected values for ConvNetOneConv, input arange(16), target 0.
CAPTUM_CONVNET = {
    "guided": [[0.0, 1.0, 1.0, 1.0], [1.0, 3.0, 3.0, 2.0], [1.0, 3.0, 3.0, 2.0],
               [1.0, 2.0, 2.0, 1.0]],
    "deconvolution": [[2.0, 3.0, 3.0, 1.0], [3.0, 5.0, 5.0, 2.0], [3.0, 5.0, 5.0, 2.0],
                      [1.0, 2.0, 2.0, 1.0]],
}


def torchvision_cases():
    import torchvision.models as tvm

    image = lambda: [torch.randn(2, 3, 64, 64)]  # noqa: E731
    cases = [
        _case("resnet18_scripted", 101, lambda: tvm.resnet18(), image, "per_example",
              [7, 421]),
        _case("resnet18_traced", 101, lambda: tvm.resnet18(), image, "per_example",
              [7, 421], export="trace"),
        _case("vgg11_scripted", 102, lambda: tvm.vgg11(), image, "index", 3),
        _case("mobilenet_v2_scripted", 103, lambda: tvm.mobilenet_v2(), image,
              "per_example", [5, 998]),
    ]
    assert tuple(c["name"] for c in cases) == TORCHVISION_NAMES
    return cases


def _reference_target(kind, target):
    """The Python form the reference (Captum) takes."""
    if kind == "per_example_tuples":
        return [tuple(t) for t in target]
    if kind == "tuple":
        return tuple(target)
    return target


def _target_values(kind, target):
    if kind == "none":
        return torch.zeros(0, dtype=torch.int64)
    if kind == "index":
        return torch.tensor([target], dtype=torch.int64)
    if kind == "tensor":
        return target.to(torch.int64)
    return torch.tensor(target, dtype=torch.int64)


class _Container(nn.Module):
    def __init__(self, values):
        super().__init__()
        for key, value in values.items():
            setattr(self, key, value)

    def forward(self) -> int:
        return 0


def _differs(a, b):
    return any(not torch.allclose(x, y, rtol=1e-4, atol=1e-6) for x, y in zip(a, b))


def make_case(case, outdir):
    torch.manual_seed(case["seed"])
    model = case["make_model"]().to(case["dtype"]).eval()
    inputs = [x.to(case["dtype"]) for x in case["make_inputs"]()]
    extra = case["extra"]() if callable(case["extra"]) else tuple(case["extra"])
    extra = tuple(e.to(case["dtype"]) if isinstance(e, torch.Tensor) else e for e in extra)
    kind, target = case["target_kind"], case["target"]
    ref_target = _reference_target(kind, target)

    results, counts = {}, set()
    for rule in RULES:
        attributions, count = attribute(model, tuple(inputs), ref_target, extra, rule)
        results[rule] = attributions
        counts.add(count)
    assert len(counts) == 1, counts
    relu_count = counts.pop()

    if relu_count == 0:
        assert not _differs(results["plain"], results["guided"]), case["name"]
        assert not _differs(results["plain"], results["deconvolution"]), case["name"]
    else:
        for a, b in (("plain", "guided"), ("plain", "deconvolution"),
                     ("guided", "deconvolution")):
            assert _differs(results[a], results[b]), f"{case['name']}: {a} == {b}"
    for rule in RULES:
        for x, g in zip(inputs, results[rule]):
            assert g.shape == x.shape and g.dtype == x.dtype, case["name"]
            assert torch.isfinite(g).all(), (case["name"], rule)
    for n in range(inputs[0].shape[0]):  # every example has a gradient
        assert any(g[n].abs().max() > 0 for g in results["plain"]), (case["name"], n)

    if case["name"] == "convnet_one_conv":
        for rule, expected in CAPTUM_CONVNET.items():
            want = torch.tensor(expected).view(1, 1, 4, 4)
            assert torch.equal(results[rule][0], want), (rule, results[rule][0])

    with torch.no_grad():
        if case["export"] == "script":
            exported = torch.jit.script(model)
        else:
            assert not extra, "traced cases take no extra arguments"
            exported = torch.jit.trace(model, tuple(inputs), check_trace=False)
        eager_out = model(*inputs, *extra)
        jit_out = exported(*inputs, *extra)
        assert torch.allclose(eager_out, jit_out, rtol=1e-5, atol=1e-6), case["name"]
    exported.save(os.path.join(outdir, case["name"] + ".model.pt"))

    values = {"num_inputs": len(inputs), "num_extra": len(extra),
              "target_kind": kind, "target_values": _target_values(kind, target),
              "relu_count": relu_count}
    for i, x in enumerate(inputs):
        values[f"input{i}"] = x.detach().clone()
    for i, e in enumerate(extra):
        values[f"extra{i}"] = e.detach().clone() if isinstance(e, torch.Tensor) else e
    for rule in RULES:
        for i, g in enumerate(results[rule]):
            values[f"{rule}{i}"] = g.clone()
    torch.jit.script(_Container(values)).save(os.path.join(outdir, case["name"] + ".data.pt"))
    diffs = {r: max(float((results[r][i] - results["plain"][i]).abs().max())
                    for i in range(len(inputs))) for r in ("guided", "deconvolution")}
    print(f"{case['name']}: inputs {[tuple(x.shape) for x in inputs]} {case['dtype']}, "
          f"{case['export']}, target {kind} {target!r}, relu_count {relu_count}, "
          f"max|guided-plain| {diffs['guided']:.3g}, "
          f"max|deconv-plain| {diffs['deconvolution']:.3g}")


def main():
    if ARGS.torchvision:
        outdir, cases = ARGS.torchvision, torchvision_cases()
    else:
        outdir, cases = ARGS.outdir, committed_cases()
    os.makedirs(outdir, exist_ok=True)
    if ARGS.torchvision:
        stamp.invalidate(outdir)
    for case in cases:
        make_case(case, outdir)
    if ARGS.torchvision:
        stamp.write(outdir, SCRIPTS)


if __name__ == "__main__":
    main()
