"""An independent Python reference of guidedbp's layer and neuron methods.

Captum's algorithms (LayerGradCam, GuidedGradCam, NeuronGuidedBackprop,
NeuronDeconvolution) re-implemented on EAGER models, from Captum's documented
semantics: a forward hook on the module named by its named_modules() path
records the layer's output (a forward pre-hook its input) and hands a copy on,
as Captum's hooks do; gradients are plain torch.autograd. The guided part uses
torch_reference's TorchFunctionMode, which overrides EVERY relu call; on models
whose ReLUs are all nn.ReLU modules this is exactly what Captum does.

Run with Debian's interpreter: /usr/bin/python3 (python3-torch).
"""

import torch
import torch.nn.functional as F

from torch_reference import ReluRuleMode, attribute, make_leaves, select


class LayerRecorder:
    """Records the last call's output (or input) tensor of one module."""

    def __init__(self, model, path, to_input):
        self.module = model.get_submodule(path)
        self.to_input = to_input
        self.value = None
        self.handle = None

    def __enter__(self):
        if self.to_input:
            def pre_hook(module, args):
                assert len(args) == 1, "reference: one-input layers only"
                self.value = args[0]
                return (args[0].clone(),)
            self.handle = self.module.register_forward_pre_hook(pre_hook)
        else:
            def hook(module, args, out):
                assert isinstance(out, torch.Tensor)
                self.value = out
                return out.clone()
            self.handle = self.module.register_forward_hook(hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def layer_grad_cam(model, inputs, target, extra, layer, to_input=False, relu=False):
    """Captum's LayerGradCam.attribute (attr_dim_summation=True)."""
    leaves = make_leaves(inputs)
    with torch.enable_grad(), LayerRecorder(model, layer, to_input) as rec:
        output = model(*leaves, *extra)
        acts = rec.value
        selected = select(output, target)
        (grad,) = torch.autograd.grad(torch.unbind(selected), acts)
    if grad.dim() > 2:
        grad = grad.mean(dim=tuple(range(2, grad.dim())), keepdim=True)
    cam = (grad * acts.detach()).sum(1, keepdim=True)
    return F.relu(cam) if relu else cam


def guided_grad_cam(model, inputs, target, extra, layer, mode="nearest",
                    to_input=False):
    """Captum's GuidedGradCam.attribute; None where the map does not fit."""
    cam = layer_grad_cam(model, inputs, target, extra, layer, to_input, relu=True)
    gbp, _ = attribute(model, tuple(inputs), target, extra, "guided")
    result = []
    for x, g in zip(inputs, gbp):
        if x.dim() != cam.dim():
            result.append(None)
            continue
        kwargs = {} if mode in ("nearest", "area") else {"align_corners": False}
        up = F.interpolate(cam, tuple(x.shape[2:]), mode=mode, **kwargs)
        result.append(g * up)
    return result, cam


def select_neuron(layer_out, selector):
    """Captum's _verify_select_neuron: an int, a tuple of ints / slices, or a
    callable; one value per example."""
    if callable(selector):
        return selector(layer_out)
    selector = (selector,) if isinstance(selector, int) else selector
    assert len(selector) <= layer_out.dim() - 1
    selected = layer_out[(slice(None), *selector)]
    if any(isinstance(s, slice) for s in selector):
        return selected.reshape(selected.shape[0], -1).sum(1)
    return selected


def neuron_attribution(model, inputs, selector, extra, layer, rule="guided",
                       to_input=False):
    """Captum's NeuronGuidedBackprop / NeuronDeconvolution.attribute."""
    leaves = make_leaves(inputs)
    mode = ReluRuleMode(rule)
    with torch.enable_grad(), LayerRecorder(model, layer, to_input) as rec:
        with mode:
            model(*leaves, *extra)
            selected = select_neuron(rec.value, selector)
            grads = torch.autograd.grad(torch.unbind(selected), leaves)
    return grads
