"""Shared harness of the end-to-end test scripts of the `guidedbp` executable.

Used by tests/cli/cli_test.py, tests/cli/bad_input_test.py, tests/cli/dataset_test.py
and tests/serve/serve_test.py (which puts tests/cli on sys.path first). Importing it
also puts tests/reference on sys.path. Run with Debian's interpreter, /usr/bin/python3
(python3-torch, numpy). Every path argument may be a str or anything str() accepts.

API (stable; scripts use `from harness import ...`)
  Script
    main(doc, areas, setup=None, add_arguments=None, prefix="guidedbp_test_") -> int
        Parses --cli (default $GUIDEDBP_CLI), --source-dir (default: this checkout),
        --area NAME|all (default all) and what add_arguments(parser) adds, into ARGS;
        sets torch to 1 thread, makes the temporary folder, calls setup() once (if given)
        and then each selected area as area() or area(setup's result), in `areas`
        (a {name: function} dict) order; prints the summary; returns the exit status.
        Use as: sys.exit(main(__doc__, AREAS)).
    ARGS           argparse.Namespace: .cli, .source_dir, .area and the added options.
    check(name, fn) -> bool    runs fn(); prints "ok   name" or "FAIL name" + traceback.
    RESULTS        {"passed": n, "failed": m}, counted by check().
    summary() -> int           prints "N passed, M failed"; returns 1 if any failed, else 0.
  Running the CLI
    run(*argv, expect=None, timeout=300) -> subprocess.CompletedProcess (text stdout/stderr);
        asserts the exit status when expect is given.
    expect_error(argv, code, substring, outputs=()) -> str (the message line)
        Asserts exit `code`, exactly one stderr line "guidedbp: ..." (not a warning,
        under 400 characters) holding `substring` (a str, or a list of str that must all
        be there), and no partial output: see no_leftovers; a folder in `outputs` that
        exists before the run must hold nothing new after it.
    no_leftovers(*outputs, keep=())  each output file is absent and no ".*.tmp-*" file
        is beside it; each existing folder holds nothing but the names in `keep`.
  Files (in the run's temporary folder)
    path(*names) -> str        a path under the temporary folder.
    fresh_dir(name) -> str     a new, empty folder there.
    write_bytes(name, data) -> str
    save(tensor, name) -> str  .npy through numpy, anything else through torch.save.
    load(p) -> torch.Tensor    the reverse of save (numpy.load / torch.load).
    save_npy(name, array) -> str     numpy.save (pickles allowed: object arrays).
    npy_bytes(header, data=b"", version=1) -> bytes   a hand-made .npy file.
    write_png(p, pixels) -> p  H x W (gray) or H x W x 3 uint8, unfiltered, one IDAT.
    read_png(p) -> np.ndarray  H x W x C uint8 (8-bit gray or RGB, every filter type).
    png_chunk(kind, data) -> bytes
    shipped() -> (model_path, [image paths], labels_path): examples/fashion_mnist.
  Models and the reference
    Classifier  N x 2 x 5 x 5 -> N x 4 (layers conv, relu, fc1, fc2)
    Grid        N x 6 -> N x 3 x 4 (fc1, fc2)        Scalar  N x 6 -> N (fc1)
    Rgb         N x 3 x 5 x 5 -> N x 4 (conv, fc), for images
    make_model(cls, name, seed, dtype=torch.float32) -> (eager, path)
        seeds torch, builds cls() in eval mode, saves its TorchScript as path(name).
    reference(eager, x, target=None, extra=(), rule="guided") -> tensor or tuple
        tests/reference/torch_reference.py's attribution on the eager model.
    assert_close(actual, expected, dtype)  same dtype and shape, allclose
        (float32: rtol 1e-4, atol 1e-5; float64: rtol 1e-9, atol 1e-11).
"""
import argparse
import glob
import os
import struct
import subprocess
import sys
import tempfile
import traceback
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))

# Filled in place by main(), so that `from harness import ARGS` sees the values.
ARGS = argparse.Namespace(cli=os.environ.get("GUIDEDBP_CLI"), source_dir=ROOT, area="all")
RESULTS = {"passed": 0, "failed": 0}
_TMP = []  # the temporary folder of this run, once main() made it


# ------------------------------------------------------------------ script
def check(name, fn):
    try:
        fn()
    except Exception:  # noqa: BLE001 - report every failure and go on
        RESULTS["failed"] += 1
        print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
        return False
    RESULTS["passed"] += 1
    print(f"ok   {name}", flush=True)
    return True


def summary():
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed", flush=True)
    return 1 if RESULTS["failed"] else 0


def main(doc, areas, setup=None, add_arguments=None, prefix="guidedbp_test_"):
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--cli", default=os.environ.get("GUIDEDBP_CLI"),
                    help="the guidedbp executable (default: $GUIDEDBP_CLI)")
    ap.add_argument("--source-dir", default=ROOT, help="the repository root")
    ap.add_argument("--area", choices=sorted(areas) + ["all"], default="all")
    if add_arguments is not None:
        add_arguments(ap)
    args = ap.parse_args()
    if not args.cli:
        ap.error("give --cli PATH or set GUIDEDBP_CLI")
    vars(ARGS).update(vars(args))
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        _TMP[:] = [tmp]
        context = ()
        if setup is not None:
            try:
                context = (setup(),)
            except Exception:  # noqa: BLE001
                RESULTS["failed"] += 1
                print(f"FAIL setup\n{traceback.format_exc()}", flush=True)
                return summary()
        for name, area in areas.items():
            if ARGS.area in (name, "all"):
                area(*context)
    return summary()


# -------------------------------------------------------------- the CLI
def run(*argv, expect=None, timeout=300):
    proc = subprocess.run([ARGS.cli] + [str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout)
    if expect is not None and proc.returncode != expect:
        raise AssertionError(
            f"exit {proc.returncode}, expected {expect}\nargs: {argv}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def no_leftovers(*outputs, keep=()):
    for p in map(str, outputs):
        if os.path.isdir(p):
            left = sorted(set(os.listdir(p)) - set(keep))
            assert not left, f"left behind in {p}: {left}"
            continue
        assert not os.path.lexists(p), f"{p} was left behind"
        temps = glob.glob(os.path.join(os.path.dirname(p) or ".", ".*.tmp-*"))
        assert not temps, f"temporary files left: {temps}"


def expect_error(argv, code, substring, outputs=()):
    outputs = [str(p) for p in outputs]
    before = {p: set(os.listdir(p)) for p in outputs if os.path.isdir(p)}
    proc = run(*argv)
    assert proc.returncode == code, \
        f"exit {proc.returncode}, expected {code}; stderr: {proc.stderr!r}"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {proc.stderr!r}"
    line = lines[0]
    assert line.startswith("guidedbp: "), line
    assert not line.startswith("guidedbp: warning: "), line
    for word in [substring] if isinstance(substring, str) else substring:
        assert word in line, f"{word!r} not in {line!r}"
    assert len(line) < 400, f"message too long ({len(line)} characters)"
    for p in outputs:
        if p in before:
            no_leftovers(p, keep=before[p])
        else:
            no_leftovers(p)
    return line


# ---------------------------------------------------------------- files
def path(*names):
    assert _TMP, "path() is for use inside main()"
    return os.path.join(_TMP[0], *map(str, names))


def fresh_dir(name):
    """An empty output folder per check, so leftovers are easy to see."""
    p = path(name)
    os.makedirs(p, exist_ok=True)
    assert not os.listdir(p), os.listdir(p)
    return p


def write_bytes(name, data):
    p = path(name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def save(tensor, name):
    p = path(name)
    if name.endswith(".npy"):
        np.save(p, tensor.numpy())
    else:
        torch.save(tensor, p)
    return p


def load(p):
    if str(p).endswith(".npy"):
        return torch.from_numpy(np.load(p))
    return torch.load(p)


def save_npy(name, array):
    p = path(name)
    np.save(p, array, allow_pickle=True)
    return p


def npy_bytes(header, data=b"", version=1):
    """A .npy file with this header text (padded as numpy pads it) and data."""
    total = 10 + len(header) + 1
    text = header + " " * (((total + 63) // 64) * 64 - total) + "\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H", len(text)) + \
        text.encode("latin1") + data


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))


def write_png(p, pixels):
    """pixels: H x W (gray) or H x W x 3 uint8."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w = pixels.shape[:2]
    color = 2 if pixels.ndim == 3 else 0
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))
    with open(p, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)))
        f.write(png_chunk(b"IDAT", zlib.compress(raw)))
        f.write(png_chunk(b"IEND", b""))
    return p


def read_png(p):
    """Decodes a non-interlaced 8-bit gray or RGB PNG (what the CLI writes)."""
    data = open(p, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (0, 2) and interlace == 0, (depth, color, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    channels = 3 if color == 2 else 1
    raw = zlib.decompress(idat)
    stride = w * channels
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, dtype=np.int32)
        for i in range(stride):
            a = cur[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 0:
                pred = 0
            elif ftype == 1:
                pred = a
            elif ftype == 2:
                pred = b
            elif ftype == 3:
                pred = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + pred) & 0xff
        out[y] = cur
        prev = cur
    return out.reshape(h, w, channels)


def shipped():
    folder = os.path.join(os.path.abspath(ARGS.source_dir), "examples", "fashion_mnist")
    return (os.path.join(folder, "model.pt"),
            sorted(glob.glob(os.path.join(folder, "images", "*.png"))),
            os.path.join(folder, "labels.txt"))


# --------------------------------------------------------------- models
class Classifier(nn.Module):
    """N x 2 x 5 x 5 -> N x 4; module, functional and in-place ReLUs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(3 * 5 * 5, 8)
        self.fc2 = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv(x))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


class Grid(nn.Module):
    """N x 6 -> N x 3 x 4, for index tuples."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 10)
        self.fc2 = nn.Linear(10, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x))).reshape(-1, 3, 4)


class Scalar(nn.Module):
    """N x 6 -> N: one value per example (no target needed)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc1(x)).sum(1)


class Rgb(nn.Module):
    """N x 3 x 5 x 5 -> N x 4: a model for 5 x 5 RGB images (explain)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)
        self.fc = nn.Linear(2 * 3 * 3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.relu(self.conv(x)).flatten(1))


def make_model(cls, name, seed, dtype=torch.float32):
    torch.manual_seed(seed)
    eager = cls().to(dtype).eval()
    p = path(name)
    torch.jit.script(eager).save(p)
    return eager, p


def reference(eager, x, target=None, extra=(), rule="guided"):
    from torch_reference import attribute
    result, _ = attribute(eager, x, target, extra, rule)
    return result


def assert_close(actual, expected, dtype):
    assert actual.dtype == expected.dtype == dtype, (actual.dtype, expected.dtype, dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-11)
    assert torch.allclose(actual, expected, **tol), \
        f"max abs difference {(actual - expected).abs().max().item()}"
