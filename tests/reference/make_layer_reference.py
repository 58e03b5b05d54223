#!/usr/bin/python3
"""Writes the reference data of tests/layer_reference_test.cpp (issue 10).

For each model case NAME this writes into OUTDIR (a CTest fixture folder):
  NAME.model.pt  the EAGER model exported as TorchScript (scripted or traced);
  NAME.data.pt   a scripted container whose attributes hold input0.., and for
                 each check k: check{k}_method (layer_grad_cam, guided_grad_cam,
                 neuron_guided_backprop, neuron_deconvolution), _layer, _to_input,
                 _relu, _mode, _target (int64 tensor: none = empty, index = 1
                 value, per_example = N values), _selector_kind (int, tuple,
                 callable), _selector (int64 (k, 3): is_range, start, stop; the
                 callable kind: [[channel, 0, 0]] meaning "sum of channel c"),
                 _expected{i} (one per input; _fits{i} false where GuidedGradCam
                 returns an empty tensor) and _cam (the Grad-CAM map).
Expected values come from layer_reference.py on the eager model, never from
guidedbp. Usage: /usr/bin/python3 tests/reference/make_layer_reference.py OUTDIR
(skipped when OUTDIR holds data from this same script and torch).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import stamp  # noqa: E402

SCRIPTS = ("make_layer_reference.py", "layer_reference.py", "torch_reference.py",
           "make_reference.py")

if __name__ == "__main__":
    OUTDIR = sys.argv[1]
    if stamp.is_current(OUTDIR, SCRIPTS):
        print(f"make_layer_reference: {OUTDIR} is up to date")
        sys.exit(0)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import layer_reference as ref  # noqa: E402
from make_reference import FunctionalRelu, _Container  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


class TwoInput(nn.Module):
    """An image and a feature vector; nn.ReLU modules only."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc_v = nn.Linear(4, 6)
        self.fc_h = nn.Linear(4 * 3 * 3 + 6, 8)
        self.fc = nn.Linear(8, 3)

    def forward(self, image, vector):
        h = F.max_pool2d(self.relu(self.conv(image)), 2)
        v = self.relu(self.fc_v(vector))
        h = self.relu(self.fc_h(torch.cat([h.flatten(1), v], 1)))
        return self.fc(h)


def relu_sequential():
    """Mirrored by a torch::nn::Sequential in the C++ test."""
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 4, 3),
                         nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))


def _gc(layer, target, mode="nearest", to_input=False):
    return dict(method="guided_grad_cam", layer=layer, target=target, mode=mode,
                to_input=to_input)


def _lgc(layer, target, relu=False, to_input=False):
    return dict(method="layer_grad_cam", layer=layer, target=target, relu=relu,
                to_input=to_input)


def _neuron(layer, selector, rule="guided", to_input=False):
    method = "neuron_guided_backprop" if rule == "guided" else "neuron_deconvolution"
    return dict(method=method, layer=layer, selector=selector, to_input=to_input)


def cases():
    import torchvision.models as tvm

    image = lambda: [torch.randn(2, 3, 64, 64)]  # noqa: E731
    resnet_checks = [
        _gc("layer4", [7, 421]),
        _gc("layer3.1.conv2", 3, mode="bilinear"),
        _gc("layer2", [1, 2], mode="bicubic"),
        _gc("layer4", 5, mode="area", to_input=True),
        _lgc("layer4", [7, 421]),
        _lgc("layer3.0.downsample", 11, relu=True),
        _lgc("layer1.1", 3, to_input=True),
        _neuron("layer4.1.conv2", (5, 1, 1)),
        _neuron("layer3.0", (slice(0, 8), 1, 2)),
        _neuron("layer2.1.bn2", ("channel", 3), rule="deconvolution"),
        _neuron("layer3.1.conv1", (7, 0, 1), to_input=True),
    ]
    vgg_checks = [
        _gc("features.18", 3),  # its output goes to an in-place ReLU
        _gc("features.19", [4, 9], mode="bilinear"),
        _lgc("classifier.0", 3),  # 2-D layer output: no averaging
        _neuron("classifier.3", 7),  # an int on a 2-D layer
        _neuron("features.16", (slice(2, 5), slice(0, 2)), rule="deconvolution"),
    ]
    functional_checks = [
        _gc("conv", 2),
        _lgc("conv", [0, 1], relu=True),
        _neuron("fc1", 4),
        _neuron("conv", ("channel", 1), rule="deconvolution"),
    ]
    two_checks = [
        _gc("conv", [2, 0]),
        _gc("conv", 1, mode="bilinear", to_input=True),
        _neuron("fc_h", 3),
        _neuron("fc", (slice(None, 2),), rule="deconvolution"),
    ]
    seq_checks = [
        _gc("2", [4, 1], mode="bilinear"),
        _gc("0", 3, to_input=True),
        _lgc("1", 2),
        _neuron("3", (1, 2, 2)),
        _neuron("2", (slice(-2, 10), 0), rule="deconvolution"),
    ]
    return [
        dict(name="resnet18_scripted", seed=101, model=tvm.resnet18, inputs=image,
             export="script", checks=resnet_checks),
        dict(name="resnet18_traced", seed=101, model=tvm.resnet18, inputs=image,
             export="trace", checks=resnet_checks),
        dict(name="vgg11_scripted", seed=102, model=tvm.vgg11, inputs=image,
             export="script", checks=vgg_checks),
        dict(name="vgg11_traced", seed=102, model=tvm.vgg11, inputs=image,
             export="trace", checks=vgg_checks),
        dict(name="functional_relu_scripted", seed=3, model=FunctionalRelu,
             inputs=lambda: [torch.randn(2, 2, 4, 4)], export="script",
             checks=functional_checks),
        dict(name="functional_relu_traced", seed=3, model=FunctionalRelu,
             inputs=lambda: [torch.randn(2, 2, 4, 4)], export="trace",
             checks=functional_checks),
        dict(name="two_input", seed=21, model=TwoInput,
             inputs=lambda: [torch.randn(2, 2, 6, 6), torch.randn(2, 4)],
             export="script", checks=two_checks),
        dict(name="relu_sequential", seed=22, model=relu_sequential,
             inputs=lambda: [torch.randn(2, 1, 6, 6)], export="script",
             checks=seq_checks),
    ]


def _selector(selector):
    """The Python selector and its int64 (k, 3) encoding."""
    if isinstance(selector, int):
        return selector, "int", torch.tensor([[0, selector, 0]])
    if selector[0] == "channel":
        c = selector[1]
        return (lambda out: out[:, c].reshape(out.shape[0], -1).sum(1),
                "callable", torch.tensor([[c, 0, 0]]))
    rows = []
    for s in selector:
        if isinstance(s, slice):
            start = 0 if s.start is None else s.start
            stop = 2 ** 62 if s.stop is None else s.stop
            rows.append([1, start, stop])
        else:
            rows.append([0, s, 0])
    return selector, "tuple", torch.tensor(rows)


def make_case(case, outdir):
    torch.manual_seed(case["seed"])
    model = case["model"]().eval()
    inputs = case["inputs"]()
    values = {"num_inputs": len(inputs), "num_checks": len(case["checks"])}
    for i, x in enumerate(inputs):
        values[f"input{i}"] = x
    for k, check in enumerate(case["checks"]):
        p = f"check{k}_"
        values[p + "method"] = check["method"]
        values[p + "layer"] = check["layer"]
        values[p + "to_input"] = check["to_input"]
        values[p + "relu"] = check.get("relu", False)
        values[p + "mode"] = check.get("mode", "nearest")
        target = check.get("target")
        values[p + "target"] = torch.tensor(
            [] if target is None else [target] if isinstance(target, int) else target,
            dtype=torch.int64)
        values[p + "selector_kind"] = "none"
        values[p + "selector"] = torch.zeros(0, 3, dtype=torch.int64)
        values[p + "cam"] = torch.zeros(0)
        if check["method"] == "guided_grad_cam":
            expected, cam = ref.guided_grad_cam(model, inputs, target, (), check["layer"],
                                                check["mode"], check["to_input"])
            values[p + "cam"] = cam
        elif check["method"] == "layer_grad_cam":
            expected = [ref.layer_grad_cam(model, inputs, target, (), check["layer"],
                                           check["to_input"], check["relu"])]
        else:
            selector, kind, encoded = _selector(check["selector"])
            values[p + "selector_kind"] = kind
            values[p + "selector"] = encoded
            rule = "guided" if check["method"] == "neuron_guided_backprop" else "deconvolution"
            expected = ref.neuron_attribution(model, inputs, selector, (), check["layer"],
                                              rule, check["to_input"])
        for i, e in enumerate(expected):
            values[p + f"fits{i}"] = e is not None
            values[p + f"expected{i}"] = torch.zeros(0) if e is None else e.detach().clone()
            assert e is None or torch.isfinite(e).all()
        nonzero = [e for e in expected if e is not None and e.abs().max() > 0]
        assert nonzero, (case["name"], k, check)
        print(f"{case['name']} check {k}: {check['method']} {check['layer']} "
              f"max |expected| {max(float(e.abs().max()) for e in nonzero):.3g}")
    with torch.no_grad():
        if case["export"] == "script":
            exported = torch.jit.script(model)
        else:
            exported = torch.jit.trace(model, tuple(inputs), check_trace=False)
        assert torch.allclose(model(*inputs), exported(*inputs), rtol=1e-5, atol=1e-6)
    exported.save(os.path.join(outdir, case["name"] + ".model.pt"))
    torch.jit.script(_Container(values)).save(os.path.join(outdir, case["name"] + ".data.pt"))


def main():
    os.makedirs(OUTDIR, exist_ok=True)
    stamp.invalidate(OUTDIR)
    for case in cases():
        make_case(case, OUTDIR)
    stamp.write(OUTDIR, SCRIPTS)


if __name__ == "__main__":
    main()
