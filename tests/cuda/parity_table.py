#!/usr/bin/env python3
"""CUDA-vs-CPU parity of `guidedbp attribute`, printed as a Markdown table.

Run by scripts/gpu-check.sh on a machine with a GPU (its PyTorch must have
CUDA and torchvision). For torchvision resnet18 and vgg11 (random weights,
seed 0, scripted) and each method, it runs the CLI on the CPU and on CUDA
with TF32 off (the CLI's default) and allowed (--allow-tf32), and the
independent Python reference (tests/reference/torch_reference.py) on the
eager model on CUDA with TF32 off. Differences are max |a - b| / max |cpu|.
Exits non-zero when guidedbp on CUDA (TF32 off) is further than 1e-5 from the
Python reference on CUDA: that is the correctness check. CUDA vs CPU is printed
for information only: plain gradients through a deep random network are
ill-conditioned (a ReLU whose input is within rounding of 0 flips its mask),
so on vgg11 Saliency even CPU float32 and float64 differ by 3.6e-3.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from torch_reference import attribute as reference_attribute  # noqa: E402

METHODS = {"guided-backprop": "guided", "deconvolution": "deconvolution", "saliency": "plain"}
TOLERANCE_VS_REFERENCE = 1e-5


def run_cli(cli, model, x, out, *extra):
    subprocess.run([cli, "attribute", "--model", model, "--input", x, "--target", "3",
                    "--output", out, *extra], check=True)
    return torch.from_numpy(np.load(out))


def relative(a, b, scale):
    return ((a - b).abs().max() / scale).item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("parity_table: this PyTorch sees no CUDA device")

    torch.manual_seed(0)
    rows = []
    worst_vs_reference = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        x = torch.randn(args.batch, 3, 224, 224)
        x_path = os.path.join(tmp, "x.npy")
        np.save(x_path, x.numpy())
        for name in ("resnet18", "vgg11"):
            eager = getattr(torchvision.models, name)(weights=None).eval()
            model_path = os.path.join(tmp, f"{name}.pt")
            torch.jit.script(eager).save(model_path)
            for method, rule in METHODS.items():
                out = lambda tag: os.path.join(tmp, f"{name}-{method}-{tag}.npy")  # noqa: E731
                cpu = run_cli(args.cli, model_path, x_path, out("cpu"), "--method", method,
                              "--device", "cpu")
                cuda = run_cli(args.cli, model_path, x_path, out("cuda"), "--method", method,
                               "--device", "cuda")
                tf32 = run_cli(args.cli, model_path, x_path, out("tf32"), "--method", method,
                               "--device", "cuda", "--allow-tf32")
                torch.backends.cudnn.allow_tf32 = False
                torch.backends.cuda.matmul.allow_tf32 = False
                ref, _ = reference_attribute(eager.cuda(), x.cuda(), target=3, rule=rule)
                ref = ref.cpu()
                eager.cpu()
                scale = cpu.abs().max()
                d_ref = relative(cuda, ref, scale)
                worst_vs_reference = max(worst_vs_reference, d_ref)
                rows.append((name, method, relative(cuda, cpu, scale),
                             relative(tf32, cpu, scale), d_ref))

    print(f"\nCUDA vs CPU, {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
          f"batch {args.batch}, target 3; max |difference| / max |CPU attribution|\n")
    print("| model | method | CUDA (TF32 off) vs CPU | CUDA (TF32 allowed) vs CPU |"
          " CUDA vs Python reference on CUDA (TF32 off) |")
    print("| --- | --- | --- | --- | --- |")
    for name, method, d_off, d_on, d_ref in rows:
        print(f"| {name} | {method} | {d_off:.2e} | {d_on:.2e} | {d_ref:.2e} |")
    if worst_vs_reference > TOLERANCE_VS_REFERENCE:
        sys.exit(f"parity_table: guidedbp on CUDA is {worst_vs_reference:.2e} from the Python "
                 f"reference on CUDA (> {TOLERANCE_VS_REFERENCE})")


if __name__ == "__main__":
    main()
