#!/usr/bin/python3
"""guidedbp: compiles a model's guided backward into an AOTInductor package.

`guidedbp export` runs this file (installed in share/guidedbp); it can also run
alone. Input: an ExportedProgram saved with torch.export.save. Output: a .pt2
package that LibTorch's AOTIModelPackageLoader runs as

    (x_1, ..., x_n, grad_output) -> (output, attribution_1, ..., attribution_n)

Guided Grad-CAM (--layer PATH) adds the layer's Grad-CAM map (N, 1, ...) as a last
output. The neuron methods (--layer PATH) take the gradient at the layer's output
instead of the model output's (the C++ side builds it from the neuron selector) and
return the layer's output first:

    (x_1, ..., x_n, layer_grad_output) -> (layer_output, attribution_1, ..., attribution_n)

How: make_fx traces f(x, g) = (y, autograd.grad(y, x, g)) into one ATen graph,
in which each ReLU's backward is one aten.threshold_backward(grad, out, 0)
node. The method is a rewrite of those nodes (Guided Backprop: grad ->
relu(grad); Deconvolution: the node -> relu(grad); Saliency: none). The graph
is then exported with a dynamic batch dimension and compiled by AOTInductor.
AOTInductor runs under no-grad, so the backward has to be in the package.

Errors: one line on stderr starting with "guidedbp export:", exit 1 (2 for
usage). Needs python3 with torch >= 2.6, the same major.minor as the LibTorch
that loads the package (--libtorch-version, given by `guidedbp export`).
"""
import argparse
import sys
import time

# The methods and what each does to a ReLU's backward (the library's ReluRule),
# and where the gradient starts: the model output ("input" methods, and "layer":
# Guided Grad-CAM) or a layer's output ("neuron").
METHODS = {
    "guided-backprop": ("guided", "input"),
    "deconvolution": ("deconvolution", "input"),
    "saliency": ("plain", "input"),
    "guided-gradcam": ("guided", "layer"),
    "neuron-guided-backprop": ("guided", "neuron"),
    "neuron-deconvolution": ("deconvolution", "neuron"),
}
FORMAT_VERSION = "1"  # of the metadata below; the C++ loader checks it


class ExportError(Exception):
    """A user-caused failure: one line, exit 1."""


def parse_version(text):
    """'2.6.0+debian' -> (2, 6)."""
    parts = text.split("+")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise ExportError(f"cannot read the torch version '{text}'")


def check_torch(libtorch_version):
    try:
        import torch
    except ImportError as e:
        raise ExportError(
            f"python3 cannot import torch ({e}); install torch >= 2.6 "
            "(Debian 13: apt-get install python3-torch)")
    have = parse_version(torch.__version__)
    if have < (2, 6):
        raise ExportError(
            f"python3 has torch {torch.__version__}; export needs torch >= 2.6 "
            "(torch.export and AOTInductor packages)")
    if libtorch_version:
        want = parse_version(libtorch_version)
        if want != have:
            raise ExportError(
                f"python3 has torch {torch.__version__} but guidedbp was built with "
                f"LibTorch {libtorch_version}: a package only loads in the LibTorch "
                "it was compiled for; use the python3 of the same torch version")
    try:
        import setuptools  # noqa: F401  Inductor imports torch.utils.cpp_extension
    except ImportError:
        raise ExportError(
            "python3 lacks setuptools, which AOTInductor needs "
            "(Debian: apt-get install python3-setuptools python3-dev g++)")
    return torch


def input_shapes(ep):
    """The shapes of the ExportedProgram's user inputs, from its placeholders,
    and whether each batch dimension is already dynamic."""
    import torch
    user_inputs = set(ep.graph_signature.user_inputs)
    shapes = []
    for node in ep.graph.nodes:
        if node.op != "placeholder" or node.name not in user_inputs:
            continue
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            raise ExportError(
                f"the model's input '{node.name}' is not a tensor; only tensor "
                "inputs can be attributed (bind the others in the module before "
                "torch.export)")
        if val.dim() == 0:
            raise ExportError(f"the model's input '{node.name}' is a scalar; it needs a batch dimension")
        if not val.is_floating_point():
            raise ExportError(
                f"the model's input '{node.name}' is {val.dtype}; attributions need "
                "a floating-point input")
        for i, d in enumerate(val.shape[1:], start=1):
            if not isinstance(d, int):
                raise ExportError(
                    f"dimension {i} of the model's input '{node.name}' is dynamic; a package "
                    "has a dynamic batch only: export with fixed sizes for the others")
        if shapes and val.dtype != shapes[0][2]:
            raise ExportError(
                f"the model's inputs have different dtypes ({shapes[0][2]}, {val.dtype}); "
                "a package takes one dtype")
        shapes.append((node.name, list(val.shape), val.dtype))
    if not shapes:
        raise ExportError("the model takes no tensor input")
    return shapes


def trace_batch(shapes, asked):
    """A batch size that no other dimension equals, so that tracing cannot
    mistake the batch for a channel or spatial size (resnet18 traced at batch
    3 made the batch the channel count). Never 0 or 1 (export specialises
    them)."""
    others = set()
    for _, shape, _ in shapes:
        for d in shape[1:]:
            if isinstance(d, int):
                others.add(d)
    if asked:
        if asked < 2 or asked in others:
            raise ExportError(
                f"--trace-batch {asked}: choose a size >= 2 that no other "
                f"input dimension equals ({sorted(others)})")
        return asked
    b = 5
    while b in others:
        b += 1
    return b


def find_layer(torch, ep, layer):
    """The module to trace (torch.export.unflatten keeps the submodules, so that a
    forward hook on the one at `layer` sees its output) and that submodule."""
    try:
        module = torch.export.unflatten(ep)
    except Exception as e:  # noqa: BLE001
        raise ExportError(
            f"cannot rebuild the model's submodules to find --layer {layer} "
            f"({first_line(e)}); see docs/export.md, Limits")
    modules = dict(module.named_modules())
    if not layer or layer not in modules:
        names = [n for n in modules if n]
        few = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise ExportError(
            f"--layer {layer}: the model has no submodule of that name; "
            f"named_modules() paths are: {few}")
    return module, modules[layer]


def run_with_layer(torch, module, layer, args, layer_path):
    """(output, the output of submodule `layer`) of one forward pass; (output,
    None) without a layer. The layer must run once and return one (N, C, ...)
    tensor. The rest of the model gets a copy of it, as in Captum and the
    library: an in-place op after the layer (vgg's ReLU(inplace=True) after a
    conv; export keeps relu_) would otherwise change the activations the map is
    made of (vgg11 features.18: maps 0.4 off)."""
    if layer is None:
        return module(*args), None
    captured = []

    def keep(_module, _inputs, out):
        captured.append(out)
        return out.clone() if isinstance(out, torch.Tensor) else None

    handle = layer.register_forward_hook(keep)
    try:
        y = module(*args)
    finally:
        handle.remove()
    out = captured[0] if len(captured) == 1 else None
    if out is None or not isinstance(out, torch.Tensor) or out.dim() < 2:
        raise ExportError(
            f"--layer {layer_path}: " +
            (f"runs {len(captured)} times in one forward pass"
             if len(captured) != 1 else "its output is not one (N, C, ...) tensor") +
            "; choose a submodule that runs once and returns one tensor")
    return y, out


def traced_program(torch, module, layer, layer_path, kind, n_inputs):
    """The function make_fx traces. kind "input": (x.., g) -> (y, a..);
    "layer": (x.., g) -> (y, a.., map) with the Grad-CAM map of `layer`;
    "neuron": (x.., g_layer) -> (layer output, a..)."""
    import torch.nn.functional as F

    def program(*args):
        xs = list(args[:n_inputs])
        g = args[n_inputs]
        with torch.enable_grad():
            leaves = [x.detach().requires_grad_(True) for x in xs]
            y, activations = run_with_layer(torch, module, layer, leaves, layer_path)
            if activations is not None and not activations.requires_grad:
                raise ExportError(
                    f"--layer {layer_path}: its output is not computed from the inputs; "
                    "choose another --layer")
            if kind != "neuron" and not isinstance(y, torch.Tensor):
                raise ExportError(
                    "the model returns a " + type(y).__name__ +
                    ", not one tensor; export a module that returns the scores tensor")
            cam = None
            if kind == "layer":
                # Grad-CAM: the plain gradient at the layer, channel weights from
                # its spatial mean, relu of the weighted sum (the library's
                # grad_cam_map); these ReLU backwards stay plain.
                (gradient,) = torch.autograd.grad(
                    y, activations, g, retain_graph=True, allow_unused=True)
                if gradient is None:
                    gradient = torch.zeros_like(activations)
                weights = gradient
                if gradient.dim() > 2:
                    weights = gradient.mean(list(range(2, gradient.dim())), keepdim=True)
                cam = F.relu((weights * activations.detach()).sum(1, keepdim=True))
            start = activations if kind == "neuron" else y
            grads = torch.autograd.grad(start, leaves, g, allow_unused=True)
        grads = [torch.zeros_like(x) if a is None else a for x, a in zip(xs, grads)]
        if kind == "layer":
            # Guided Backprop times the map upsampled to each input ('nearest',
            # Captum's default).
            grads = [a * F.interpolate(cam, size=list(x.shape[2:]), mode="nearest").to(a.dtype)
                     for x, a in zip(xs, grads)]
            return (y.detach(), *grads, cam)
        if kind == "neuron":
            return (activations.detach(), *grads)
        return (y.detach(), *grads)

    return program


def attribution_graph(torch, program, samples, rule, use_abs, kind):
    """The traced program with the ReLU rule applied to each threshold_backward
    node (for Guided Grad-CAM, those of the Guided Backprop part only: the
    Grad-CAM map's ancestors keep the plain gradient); returns (graph module,
    count of nodes rewritten)."""
    from torch.fx.experimental.proxy_tensor import make_fx

    def with_abs(*args):
        out = program(*args)
        return (out[0], *[a.abs() for a in out[1:]]) if use_abs else out

    gm = make_fx(with_abs, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*samples)
    aten = torch.ops.aten
    plain = set()
    if kind == "layer":
        output = next(n for n in gm.graph.nodes if n.op == "output")
        stack = [output.args[0][-1]]
        while stack:
            node = stack.pop()
            if node not in plain:
                plain.add(node)
                stack.extend(node.all_input_nodes)
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target != aten.threshold_backward.default:
            continue
        grad, _, threshold = node.args
        if threshold != 0 or node in plain:
            continue  # not a ReLU (another Threshold), or Grad-CAM's plain part
        count += 1
        if rule == "plain":
            continue
        with gm.graph.inserting_before(node):
            positive = gm.graph.call_function(aten.relu.default, (grad,))
        if rule == "guided":
            node.update_arg(0, positive)  # relu(grad) * (out > 0)
        else:  # deconvolution: relu(grad), whatever the forward mask was
            node.replace_all_uses_with(positive)
            gm.graph.erase_node(node)
    gm.graph.lint()
    gm.recompile()
    return gm, count


def export_package(args):
    torch = check_torch(args.libtorch_version)
    rule, kind = METHODS[args.method]
    if args.abs and args.method != "saliency":
        raise ExportError(f"--abs is for --method saliency, not {args.method}")
    if kind == "input" and args.layer:
        raise ExportError(f"--layer is for the layer and neuron methods, not {args.method}")
    if kind != "input" and not args.layer:
        raise ExportError(f"--method {args.method} needs --layer PATH (a named_modules() path)")
    if args.device != "cpu" and not (args.device.startswith("cuda") and torch.cuda.is_available()):
        raise ExportError(
            f"--device {args.device}: this python3's torch has no CUDA device; "
            "export on a machine with the GPU and a CUDA build of torch, or use --device cpu")
    started = time.monotonic()
    try:
        ep = torch.export.load(args.model)
    except FileNotFoundError:
        raise ExportError(f"{args.model}: no such file")
    except Exception as e:  # noqa: BLE001  any unreadable archive
        raise ExportError(
            f"{args.model}: not an ExportedProgram ({first_line(e)}); save one with "
            "torch.export.save(torch.export.export(model, (x,)), path)")
    shapes = input_shapes(ep)
    batch = trace_batch(shapes, args.trace_batch)
    layer = None
    if kind == "input":
        module = ep.module()
        # The unlifted module checks each call against the shapes it was
        # exported with; the trace runs at its own batch size, and export
        # checks the result.
        module._forward_pre_hooks.clear()
    else:
        module, layer = find_layer(torch, ep, args.layer)
    for p in module.parameters():
        p.requires_grad_(False)
    device = torch.device(args.device)
    module.to(device)
    generator = torch.Generator().manual_seed(0)
    samples = [torch.randn([batch] + shape[1:], generator=generator, dtype=dtype).to(device)
               for _, shape, dtype in shapes]
    with torch.no_grad():
        try:
            y, out = run_with_layer(torch, module, layer, samples, args.layer)
        except ExportError:
            raise
        except Exception as e:  # noqa: BLE001
            raise ExportError(
                f"the model fails at batch size {batch} ({first_line(e)}); export it "
                "with a dynamic batch: dynamic_shapes={'x': {0: torch.export.Dim('batch')}}")
    if kind != "neuron" and (not isinstance(y, torch.Tensor) or y.dim() == 0
                             or y.shape[0] != batch):
        raise ExportError(
            "the model's output is not one tensor with the batch first; export a module "
            "that returns the scores tensor")
    layer_shape = []
    if layer is not None:
        if out.shape[0] != batch:
            raise ExportError(
                f"--layer {args.layer}: its output is not one (N, C, ...) tensor; choose a "
                "submodule that runs once and returns one tensor")
        layer_shape = list(out.shape[1:])
        if kind == "layer":
            for name, shape, _ in shapes:
                if len(shape) != out.dim() or out.dim() < 3:
                    raise ExportError(
                        f"guided-gradcam: --layer {args.layer} gives [N, "
                        f"{', '.join(str(d) for d in layer_shape)}], whose Grad-CAM map "
                        f"cannot be upsampled to input '{name}' ([N, "
                        f"{', '.join(str(d) for d in shape[1:])}]); choose a layer whose "
                        "output has the input's dimensions (a convolutional one)")
    start = out if kind == "neuron" else y
    g = torch.randn(start.shape, generator=generator, dtype=start.dtype).to(device)
    try:
        program = traced_program(torch, module, layer, args.layer, kind, len(samples))
        gm, count = attribution_graph(torch, program, samples + [g], rule, args.abs, kind)
    except ExportError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ExportError(
            f"cannot trace the model's backward ({first_line(e)}); see docs/export.md, Limits")
    if count == 0 and rule != "plain":
        print("guidedbp: warning: no ReLU found to override; the package "
              "computes the plain gradient (Saliency)", file=sys.stderr)

    names = [name for name, _, _ in shapes] + [
        "layer_grad_output" if kind == "neuron" else "grad_output"]
    batch_dim = torch.export.Dim("batch", min=1)
    dynamic = tuple({0: batch_dim} for _ in names)
    try:
        program = torch.export.export(gm, tuple(samples + [g]), dynamic_shapes=dynamic)
    except Exception as e:  # noqa: BLE001
        raise ExportError(
            f"cannot export the attribution program with a dynamic batch ({first_line(e)}); "
            "the model may fix its batch size (e.g. view(1, -1)): use flatten(x, 1)")
    traced_at = time.monotonic()
    threads = args.threads or torch.get_num_threads()
    metadata = {
        "guidedbp.format": FORMAT_VERSION,
        "guidedbp.method": args.method,
        "guidedbp.abs": "1" if args.abs else "0",
        "guidedbp.layer": args.layer,
        # The layer output's shape without the batch (neuron and Grad-CAM
        # packages); "" for the input methods.
        "guidedbp.layer_shape": ",".join(str(int(d)) for d in layer_shape),
        "guidedbp.relu_count": str(count),
        # Each input's shape without the batch, ';' between inputs: "1,28,28".
        "guidedbp.input_shapes": ";".join(
            ",".join(str(int(d)) for d in shape[1:]) for _, shape, _ in shapes),
        "guidedbp.input_names": ",".join(name for name, _, _ in shapes),
        "guidedbp.dtype": str(shapes[0][2]).replace("torch.", ""),
        # The model output's shape without the batch ("" when a neuron
        # package's model returns no single tensor).
        "guidedbp.output_shape": ",".join(str(int(d)) for d in y.shape[1:])
        if isinstance(y, torch.Tensor) else "",
        "guidedbp.device": args.device,
        "guidedbp.version": args.guidedbp_version,
        "guidedbp.torch_version": torch.__version__,
        "guidedbp.trace_batch": str(batch),
        "guidedbp.threads": str(threads),
    }
    try:
        torch._inductor.aoti_compile_and_package(
            program, package_path=args.output,
            inductor_configs={
                "aot_inductor.metadata": metadata,
                # Inductor writes this count into every parallel loop of the
                # package (OpenMP num_threads); set_num_threads at run time
                # does not change it.
                "cpp.threads": threads,
                # Converting convolutions to channels_last rounds float32
                # differently from eager ATen (3e-6 on vgg11's forward), which
                # flips ReLU masks near zero and moved GBP maps by up to 4e-2;
                # off, a package gives eager's float32 numbers.
                "layout_optimization": False,
            })
    except Exception as e:  # noqa: BLE001
        raise ExportError(
            f"AOTInductor cannot compile the program ({first_line(e)}); see docs/export.md, Limits")
    done = time.monotonic()
    print(f"guidedbp: exported {args.method}"
          f"{' of layer ' + args.layer if args.layer else ''}, {count} ReLU"
          f"{'' if count == 1 else 's'} rewritten, batch dynamic (traced at {batch}), "
          f"{threads} thread{'' if threads == 1 else 's'}; "
          f"trace+export {traced_at - started:.1f} s, compile {done - traced_at:.1f} s",
          file=sys.stderr)


def first_line(error):
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="guidedbp export",
        description="Compile a torch.export model's attribution into an AOTInductor package")
    parser.add_argument("--model", required=True, help="ExportedProgram (torch.export.save)")
    parser.add_argument("--method", required=True, choices=list(METHODS))
    parser.add_argument("--abs", action="store_true", help="saliency: absolute value")
    parser.add_argument("--layer", default="",
                        help="guided-gradcam and neuron methods: a named_modules() path")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--output", required=True, help="the package, .pt2")
    parser.add_argument("--libtorch-version", default="", help="major.minor the package must match")
    parser.add_argument("--guidedbp-version", default="")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads of the package's parallel loops (default: this machine's)")
    parser.add_argument("--trace-batch", type=int, default=0,
                        help="batch size of the trace (default: the smallest >= 5 no other dim equals)")
    args = parser.parse_args(argv)
    if not args.output.endswith(".pt2"):
        print(f"guidedbp: --output {args.output}: a package ends in .pt2", file=sys.stderr)
        return 2
    try:
        export_package(args)
    except ExportError as e:
        print(f"guidedbp: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
