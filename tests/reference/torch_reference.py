"""An independent Python reference of guidedbp's attributions.

The C++ library rewrites gradients on ReluBackward0 nodes of the autograd graph.
This reference gets the same numbers another way: while the EAGER model runs,
a TorchFunctionMode replaces every relu call (nn.ReLU, F.relu, torch.relu,
Tensor.relu, the in-place forms) with an autograd.Function whose backward
applies the rule. Target selection is written from Captum's documented
semantics (`_select_targets`, `compute_gradients`).

Run with Debian's interpreter: /usr/bin/python3 (python3-torch).
NOTE: the in-place forms return a new tensor here, so models must use the
return value of relu_ (nn.ReLU(inplace=True) and torchvision models do).
"""

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

RULES = ("plain", "guided", "deconvolution")


class _RuleRelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, rule):
        ctx.save_for_backward(x)
        ctx.rule = rule
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        if ctx.rule == "deconvolution":
            return grad_y.clamp(min=0), None
        grad_x = grad_y * (x > 0).to(grad_y.dtype)
        if ctx.rule == "guided":
            grad_x = grad_x.clamp(min=0)
        return grad_x, None


_RELU_FUNCS = {
    torch.relu,
    torch.relu_,
    F.relu,
    F.relu_,
    torch.Tensor.relu,
    torch.Tensor.relu_,
}


class ReluRuleMode(TorchFunctionMode):
    """Counts and replaces every relu call made while active."""

    def __init__(self, rule):
        super().__init__()
        assert rule in RULES, rule
        self.rule = rule
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _RELU_FUNCS:
            self.count += 1
            return _RuleRelu.apply(args[0], self.rule)
        return func(*args, **kwargs)


def select(output, target):
    """Captum's target selection, one value per example."""
    n = output.shape[0]
    if target is None:
        selected = output
    elif isinstance(target, int):
        assert output.dim() >= 2
        selected = output[:, target]
    elif isinstance(target, tuple):
        assert len(target) <= output.dim() - 1
        selected = output[(slice(None),) + target]
    elif isinstance(target, torch.Tensor):
        if target.numel() == 1:
            return select(output, int(target.item()))
        assert target.dim() == 1 and target.numel() == n and output.dim() == 2
        selected = torch.gather(output, 1, target.reshape(n, 1))
    elif isinstance(target, list):
        assert len(target) == n
        if isinstance(target[0], int):
            assert output.dim() == 2
            idx = torch.tensor(target, device=output.device).reshape(n, 1)
            selected = torch.gather(output, 1, idx)
        else:
            selected = torch.stack([output[(i,) + t] for i, t in enumerate(target)])
    else:
        raise TypeError(f"unsupported target {target!r}")
    assert selected[0].numel() == 1, "target needed: several outputs per example"
    return selected


def make_leaves(inputs):
    """Fresh leaves holding copies of `inputs`, so their gradients are ours."""
    return tuple(x.detach().clone().requires_grad_() for x in inputs)


def attribute(forward, inputs, target=None, extra=(), rule="guided"):
    """Attributions of `inputs` (a tensor or a tuple of tensors) for `forward`
    (an eager callable) under `rule`. Returns (attributions, relu_count)."""
    single = isinstance(inputs, torch.Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    leaves = make_leaves(inputs)
    mode = ReluRuleMode(rule)
    with torch.enable_grad():
        with mode:
            output = forward(*leaves, *extra)
        selected = select(output, target)
        grads = torch.autograd.grad(torch.unbind(selected), leaves)
    grads = tuple(g.detach() for g in grads)
    return (grads[0] if single else grads), mode.count
