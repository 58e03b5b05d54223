#!/usr/bin/python3
"""Bad inputs to the `guidedbp` command line (docs/bad-inputs.md), run by CTest.

One check per row of the CLI table in docs/bad-inputs.md (the check names
are the row names there). An error check runs the executable and asserts the
exit status, that stderr is exactly one line starting with "guidedbp: " and
holding the row's key words, and that no output file and no temporary file
is left in the output folder. `explain` checks assert its end-of-run report
instead (one line per failed image, then "guidedbp: F of N images failed").
Prints one line per check and "N passed, M failed"; exits non-zero on failure.

Tests run as root here, so `chmod 000` does not make a file unreadable:
"unreadable" rows use /proc/self/mem (open succeeds, read fails with EIO)
and a directory given as a file.

Run with Debian's interpreter: /usr/bin/python3 (python3-torch, numpy).
"""
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn

from harness import (Classifier, Grid, Rgb, check, expect_error, fresh_dir, main, make_model,
                     no_leftovers, npy_bytes, path, png_chunk, run, save_npy, write_bytes,
                     write_png)

write = write_bytes


# ------------------------------------------------------------------ models
# Classifier (N x 2 x 5 x 5 -> N x 4: conv, relu, fc1, fc2), Grid (N x 6 ->
# N x 3 x 4: fc1, fc2) and Rgb (N x 3 x 5 x 5 -> N x 4) come from harness.py.
class TwoInputs(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.relu(a.flatten(1)[:, :3] + 2 * b.flatten(1)[:, :3])


class TupleOut(nn.Module):
    def forward(self, x: torch.Tensor):
        return torch.relu(x).flatten(1)[:, :4], x


class DictOut(nn.Module):
    def forward(self, x: torch.Tensor):
        return {"scores": torch.relu(x).flatten(1)[:, :4]}


class NoRelu(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x.flatten(1)[:, :4]) * torch.arange(4.0)


class Square(nn.Module):
    """A gradient that depends on the input's values (2x): NaN propagates."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * x).flatten(1)[:, :4] + torch.relu(x).flatten(1)[:, :4]


def script(cls, name, seed=None):
    return make_model(cls, name, sum(map(ord, name)) if seed is None else seed)[1]


# ------------------------------------------------------------------- files
def make_files():
    f = {}
    f["model"] = script(Classifier, "model.pt")
    f["grid"] = script(Grid, "grid.pt")
    f["two"] = script(TwoInputs, "two.pt")
    f["tuple"] = script(TupleOut, "tuple.pt")
    f["dict"] = script(DictOut, "dict.pt")
    f["norelu"] = script(NoRelu, "norelu.pt")
    f["square"] = script(Square, "square.pt")
    f["rgb"] = script(Rgb, "rgb.pt", seed=9)  # a non-blank map for good.png
    torch.manual_seed(0)
    x = torch.rand(2, 2, 5, 5) - 0.3
    f["x_tensor"] = x
    f["x"] = save_npy("x.npy", x.numpy())
    f["x_pt"] = path("x.pt")
    torch.save(x, f["x_pt"])
    f["grid_x"] = save_npy("grid_x.npy", torch.randn(2, 6).numpy())
    model_bytes = open(f["model"], "rb").read()
    f["model_empty"] = write("model_empty.pt", b"")
    f["model_trunc"] = write("model_trunc.pt", model_bytes[:len(model_bytes) // 2])
    corrupt = bytearray(model_bytes)
    for i in range(len(corrupt) // 2, len(corrupt) // 2 + 400):
        corrupt[i] ^= 0x55
    f["model_corrupt"] = write("model_corrupt.pt", bytes(corrupt))
    os.makedirs(path("folder.pt"), exist_ok=True)
    os.makedirs(path("folder.npy"), exist_ok=True)
    os.makedirs(path("folder.png"), exist_ok=True)
    for ext in ("npy", "pt", "png"):
        link = path(f"unreadable.{ext}")
        if not os.path.lexists(link):
            os.symlink("/proc/self/mem", link)
    return f


# ------------------------------------------------------------------- areas
def area_files(f):
    out_dir = fresh_dir("out_files")
    out = os.path.join(out_dir, "a.npy")
    model, x = f["model"], f["x"]

    def attribute(input_path, model_path=model):
        return ["attribute", "--model", model_path, "--input", input_path, "--target", "1",
                "--output", out]

    x_bytes = open(x, "rb").read()
    pt_bytes = open(f["x_pt"], "rb").read()
    bad_pickle = bytearray(pt_bytes)
    for i in range(60, 150):
        bad_pickle[i] ^= 0x55
    torch.save({"a": f["x_tensor"]}, path("holds_dict.pt"))
    torch.save(3, path("holds_int.pt"))
    cases = [
        # (row, argv, status, key words)
        ("model: missing", attribute(x, path("nope.pt")), 1, ["nope.pt: no such file"]),
        ("model: empty file", attribute(x, f["model_empty"]), 1,
         ["model_empty.pt: not a TorchScript model"]),
        ("model: a directory", attribute(x, path("folder.pt")), 1,
         ["folder.pt: is a directory"]),
        ("model: unreadable (read fails)", attribute(x, "/proc/self/mem"), 1,
         ["/proc/self/mem: cannot read"]),
        ("model: truncated", attribute(x, f["model_trunc"]), 1,
         ["model_trunc.pt: not a TorchScript model", "zip archive"]),
        ("model: corrupt", attribute(x, f["model_corrupt"]), 1,
         ["model_corrupt.pt: not a TorchScript model"]),
        ("model: a tensor file, not a model", attribute(x, f["x_pt"]), 1,
         ["x.pt: not a TorchScript model"]),
        ("npy: missing", attribute(path("nope.npy")), 1, ["nope.npy: no such file"]),
        ("npy: empty file", attribute(write("empty.npy", b"")), 1,
         ["empty.npy: not a .npy file"]),
        ("npy: a directory", attribute(path("folder.npy")), 1, ["folder.npy: is a directory"]),
        ("npy: unreadable (read fails)", attribute(path("unreadable.npy")), 1,
         ["unreadable.npy: cannot read"]),
        ("npy: truncated in the header", attribute(write("cut_header.npy", x_bytes[:60])), 1,
         ["cut_header.npy: truncated .npy file"]),
        ("npy: truncated data", attribute(write("cut_data.npy", x_bytes[:-100])), 1,
         ["cut_data.npy: header says 2x2x5x5 float32 (400 bytes) but the file holds 300",
          "(truncated?)"]),
        ("npy: data after the array", attribute(write("long.npy", x_bytes + b"junk")), 1,
         ["long.npy: header says 2x2x5x5 float32 (400 bytes) but the file holds 404"]),
        ("npy: header claims an absurd size", attribute(write("absurd.npy", npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000), }",
            b"\0" * 16))), 1, ["absurd.npy: header says 100000000000x100000 float32",
                               "holds 16 bytes"]),
        ("npy: header size overflows 64 bits", attribute(write("overflow.npy", npy_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16)}",
            b"\0" * 8))), 1, ["overflow.npy", "more elements than can be addressed"]),
        ("npy: garbage header", attribute(write("garbage.npy", npy_bytes("{'descr': <f4}"))), 1,
         ["garbage.npy: malformed .npy header"]),
        ("npy: format version 4.0", attribute(write("v4.npy", x_bytes[:6] + b"\x04\x00" +
                                                    x_bytes[8:])), 1,
         ["v4.npy: unsupported .npy format version 4.0"]),
        ("npy: complex dtype", attribute(save_npy("complex.npy",
                                                  np.zeros((2, 2, 5, 5), np.complex64))), 1,
         ["complex.npy: unsupported .npy dtype '<c8'"]),
        ("npy: object array", attribute(save_npy("object.npy",
                                                 np.array([[1], [2]], dtype=object))), 1,
         ["object.npy: unsupported .npy dtype '|O'"]),
        ("npy: structured dtype", attribute(save_npy("struct.npy",
                                                     np.zeros(2, dtype=[("a", "<f4")]))), 1,
         ["struct.npy: malformed .npy header"]),
        ("npy: big-endian", attribute(save_npy("big.npy",
                                               f["x_tensor"].numpy().astype(">f4"))), 1,
         ["big.npy: .npy data is big-endian", "'>f4'"]),
        ("npy: Fortran order", attribute(save_npy("fortran.npy", np.asfortranarray(
            f["x_tensor"].numpy()))), 1, ["fortran.npy: .npy array is in Fortran order"]),
        ("npy: integer input", attribute(save_npy("ints.npy", np.ones((2, 2, 5, 5), np.int64))),
         1, ["ints.npy: the input is 2x2x5x5 Long", "floating-point"]),
        ("npy: bool input", attribute(save_npy("bools.npy", np.ones((2, 2, 5, 5), bool))), 1,
         ["bools.npy: the input is 2x2x5x5 Bool", "floating-point"]),
        ("npy: scalar input", attribute(save_npy("scalar.npy", np.float32(1.0))), 1,
         ["scalar.npy: the input is a scalar", "batch dimension"]),
        ("pt: missing", attribute(path("nope.pt")), 1, ["nope.pt: no such file"]),
        ("pt: empty file", attribute(write("empty.pt", b"")), 1,
         ["empty.pt: not a readable .pt tensor file"]),
        ("pt: a directory", attribute(path("folder.pt")), 1, ["folder.pt: is a directory"]),
        ("pt: unreadable (read fails)", attribute(path("unreadable.pt")), 1,
         ["unreadable.pt: cannot read"]),
        ("pt: truncated", attribute(write("cut.pt", pt_bytes[:len(pt_bytes) // 2])), 1,
         ["cut.pt: not a readable .pt tensor file"]),
        ("pt: corrupt pickle", attribute(write("bad_pickle.pt", bytes(bad_pickle))), 1,
         ["bad_pickle.pt: not a readable .pt tensor file"]),
        ("pt: holds a dict", attribute(path("holds_dict.pt")), 1,
         ["holds_dict.pt: not a ", "tensor"]),  # 1.13 and 2.x word it differently
        ("pt: holds a number", attribute(path("holds_int.pt")), 1,
         ["holds_int.pt: not a tensor file: it holds a Int"]),
        ("input: unknown extension", attribute(write("x.txt", b"1 2 3")), 1,
         ["x.txt: unknown tensor file extension"]),
    ]
    for row, argv, code, words in cases:
        check(f"attribute {row}",
              lambda argv=argv, code=code, words=words: expect_error(argv, code, words,
                                                                     [out_dir]))

    def absurd_is_fast():
        # Rejected from the header alone: no 400 PB allocation, no stall.
        start = time.monotonic()
        proc = run(*attribute(path("absurd.npy")))
        assert proc.returncode == 1, proc.stderr
        assert time.monotonic() - start < 60
    check("attribute npy: absurd size rejected before allocating", absurd_is_fast)

    def corrupt_pt_data():
        # Flipped bytes inside the tensor data of a .pt: PyTorch checks no
        # checksum (torch.load reads it too), so the values are taken as read.
        data = bytearray(pt_bytes)
        import zipfile
        with zipfile.ZipFile(f["x_pt"]) as z:
            info = [i for i in z.infolist() if i.filename.endswith("data/0")][0]
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        for i in range(start, start + 40):
            data[i] ^= 0x55
        p = write("flipped_data.pt", bytes(data))
        loaded = torch.load(p)
        assert not torch.equal(loaded, f["x_tensor"]), "the flip missed the data"
        same = save_npy("flipped_data_as_npy.npy", loaded.numpy())
        out_a, out_b = path("flip_a.npy"), path("flip_b.npy")
        for inp, o in ((p, out_a), (same, out_b)):
            proc = run("attribute", "--model", model, "--input", inp, "--target", "1",
                       "--output", o)
            assert proc.returncode == 0, proc.stderr
        assert np.array_equal(np.load(out_a), np.load(out_b))
    check("attribute pt: corrupt tensor data is read as torch.load reads it", corrupt_pt_data)


def area_model(f):
    out_dir = fresh_dir("out_model")
    out = os.path.join(out_dir, "a.npy")
    out2 = os.path.join(out_dir, "b.npy")
    model, x = f["model"], f["x"]
    cases = [
        ("wrong rank for the model", ["attribute", "--model", model, "--input",
                                      save_npy("rank3.npy", np.random.rand(2, 5, 5).astype(
                                          np.float32)), "--target", "1", "--output", out], 1,
         ["RuntimeError:", "shapes cannot be multiplied"]),
        ("wrong channel count for the model", [
            "attribute", "--model", model, "--input",
            save_npy("ch3.npy", np.random.rand(2, 3, 5, 5).astype(np.float32)), "--target",
            "1", "--output", out], 1, ["to have 2 channels, but got 3 channels"]),
        ("float16 input the model rejects", [
            "attribute", "--model", model, "--input",
            save_npy("half.npy", np.random.rand(2, 2, 5, 5).astype(np.float16)), "--target",
            "1", "--output", out], 1, ["RuntimeError:", "Half"]),
        ("batch mismatch between inputs", [
            "attribute", "--model", f["two"], "--input", x, "--input",
            save_npy("b3.npy", np.random.rand(3, 2, 5, 5).astype(np.float32)), "--target", "1",
            "--output", out, "--output", out2], 1,
         ["inputs have different batch sizes", "input 1 has 3"]),
        ("model returns a tuple", ["attribute", "--model", f["tuple"], "--input", x, "--target",
                                   "1", "--output", out], 1, ["returned a Tuple"]),
        ("model returns a dict", ["attribute", "--model", f["dict"], "--input", x, "--target",
                                  "1", "--output", out], 1, ["returned a GenericDict"]),
        ("too many forward args for the model", [
            "attribute", "--model", model, "--input", x, "--forward-arg", "2.0", "--target", "1",
            "--output", out], 1, ["Expected at most 2 argument(s)"]),
    ]
    for row, argv, code, words in cases:
        check(f"attribute {row}",
              lambda argv=argv, code=code, words=words: expect_error(argv, code, words,
                                                                     [out_dir]))

    def no_relu():
        o = os.path.join(fresh_dir("out_norelu"), "a.npy")
        proc = run("attribute", "--model", f["norelu"], "--input", x, "--target", "1",
                   "--output", o)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("guidedbp: warning: "), proc.stderr
        assert "no ReLU" in lines[0] and "plain gradient" in lines[0], lines[0]
        assert np.load(o).shape == (2, 2, 5, 5)
    check("attribute model without ReLUs: warning, result written", no_relu)

    def non_finite(name, model_path, poison, expect_nan_out):
        def body():
            t = f["x_tensor"].clone()
            t[0, 0, 0, 0] = poison
            inp = save_npy(f"{name}.npy", t.numpy())
            o = os.path.join(fresh_dir(f"out_{name}"), "a.npy")
            proc = run("attribute", "--model", model_path, "--input", inp, "--target", "1",
                       "--output", o)
            assert proc.returncode == 0, proc.stderr
            lines = proc.stderr.splitlines()
            assert lines[0] == (f"guidedbp: warning: {inp}: 1 of 100 values of the input are "
                                "NaN or infinite"), proc.stderr
            got = np.load(o)
            assert got.shape == (2, 2, 5, 5)
            if expect_nan_out:
                assert len(lines) == 2 and lines[1].startswith(f"guidedbp: warning: {o}: ") and \
                    "of the attribution are NaN or infinite" in lines[1], proc.stderr
                assert not np.isfinite(got).all()
            else:
                # A piecewise-linear model: the gradient does not depend on the
                # values, so the attribution stays finite (the scores do not).
                assert len(lines) == 1, proc.stderr
                assert np.isfinite(got).all()
        return body
    check("attribute NaN input: warning, attribution written",
          non_finite("nan_in", model, float("nan"), False))
    check("attribute Inf input: warning, attribution written",
          non_finite("inf_in", model, float("inf"), False))
    check("attribute NaN input propagating into the attribution: two warnings",
          non_finite("nan_sq", f["square"], float("nan"), True))


def area_targets(f):
    out_dir = fresh_dir("out_targets")
    out = os.path.join(out_dir, "a.npy")
    base = ["attribute", "--model", f["model"], "--input", f["x"], "--output", out]
    grid = ["attribute", "--model", f["grid"], "--input", f["grid_x"], "--output", out]
    malformed = [
        # (literal, key words)
        ("", ["expected an integer, a tuple '(...)' or a list '[...]' at column 1",
              "found the end"]),
        ("   ", ["at column 4, found the end"]),
        ("[", ["expected an integer at column 2, found the end"]),
        ("]", ["expected an integer at column 1, found ']'"]),
        ("[1,2", ["expected ',' or ']' at column 5, found the end"]),
        ("1,2]", ["expected the end of the target at column 2, found ','"]),
        ("(1,2", ["expected ',' or ')' at column 5, found the end"]),
        ("((1,2)", ["expected an integer at column 2, found '('"]),
        ("abc", ["expected an integer at column 1, found 'a'"]),
        ("none", ["expected an integer at column 1, found 'n'"]),
        ("1.5", ["no fractions or letters", "column 2, found '.'"]),
        ("1e3", ["no fractions or letters", "column 2, found 'e'"]),
        ("0x1", ["no fractions or letters", "found 'x'"]),
        ("[1.0,2]", ["no fractions or letters", "column 3"]),
        ("[[1,2]]", ["expected an integer at column 2, found '['"]),
        ("[(1,2),[3,4]]", ["all integers or all tuples", "column 8, found '['"]),
        ("[1,(2,3)]", ["all integers or all tuples", "column 4, found '('"]),
        ("[(1,2),3]", ["all integers or all tuples", "column 8, found '3'"]),
        ("[1,,2]", ["expected an integer at column 4, found ','"]),
        ("[,]", ["expected an integer at column 2, found ','"]),
        ("[1 2]", ["expected ',' or ']' at column 4, found '2'"]),
        ("[]", ["an empty list is not a target"]),
        ("()", ["an empty tuple is not a target"]),
        ("(1,2),(3,4)", ["expected the end of the target at column 6"]),
        ("+", ["expected an integer at column 2, found the end"]),
        ("--1", ["expected an integer at column 2, found '-'"]),
        ("9223372036854775808", ["an integer that fits in 64 bits at column 1"]),
        ("-9223372036854775809", ["an integer that fits in 64 bits at column 1"]),
        ("99999999999999999999", ["an integer that fits in 64 bits"]),
        ("[1,99999999999999999999]", ["an integer that fits in 64 bits at column 4"]),
        ("(0,99999999999999999999)", ["an integer that fits in 64 bits at column 4"]),
        ("3\x01", ["found byte 1"]),
    ]
    for literal, words in malformed:
        check(f"attribute malformed target {literal!r}",
              lambda literal=literal, words=words: expect_error(
                  base + ["--target", literal], 1, ["bad --target "] + words, [out_dir]))

    def trailing_comma_is_fine():
        proc = run(*(base[:-2] + ["--target", "[1,2,]", "--output", path("trail.npy")]))
        assert proc.returncode == 0 and not proc.stderr, proc.stderr
    check("attribute target '[1,2,]' (trailing comma) is accepted", trailing_comma_is_fine)

    out_of_range = [
        ("7", base, ["target 7: index 7 is out of range for dimension 1",
                     "shape [2, 4] (valid: -4 to 3)"]),
        ("-5", base, ["index -5 is out of range", "(valid: -4 to 3)"]),
        ("9223372036854775807", base, ["index 9223372036854775807 is out of range"]),
        ("-9223372036854775808", base, ["index -9223372036854775808 is out of range"]),
        ("[1,5]", base, ["target [1, 5]: index 5 is out of range", "(valid: 0 to 3)"]),
        ("[-1,0]", base, ["index -1 is out of range", "(valid: 0 to 3)"]),
        ("(0,9)", grid, ["index 9 is out of range for dimension 2", "shape [2, 3, 4]"]),
        ("[(0,1),(5,0)]", grid, ["index 5 is out of range for dimension 1"]),
    ]
    for literal, argv, words in out_of_range:
        check(f"attribute target out of range {literal}",
              lambda literal=literal, argv=argv, words=words: expect_error(
                  argv + ["--target", literal], 1, words, [out_dir]))

    wrong_form = [
        ("per-example list longer than the batch", base, "[1,2,3]",
         ["target [1, 2, 3] has 3 per-example entries, but the batch has 2"]),
        ("per-example list shorter than the batch", base, "[1]",
         ["has 1 per-example entries, but the batch has 2"]),
        ("tuple longer than the output allows", base, "(1,2)",
         ["target (1, 2) has 2 indices", "allows at most 1"]),
        ("no target for N x 4 scores", base, None, ["no target given", "shape [2, 4]"]),
        ("index leaves several values per example", grid, "1",
         ["target 1 leaves several values per example", "[2, 3, 4]"]),
        ("per-example list on a 3-D output", grid, "[0,1]", ["needs a 2-D output"]),
        ("per-example tuples of different lengths", grid, "[(0,1),(1,)]",
         ["per-example tuples must all have the same length, got 2 and 1"]),
    ]
    for row, argv, literal, words in wrong_form:
        extra = [] if literal is None else ["--target", literal]
        check(f"attribute target {row}",
              lambda argv=argv, extra=extra, words=words: expect_error(
                  argv + extra, 1, words, [out_dir]))


def area_outputs(f):
    out_dir = fresh_dir("out_outputs")
    a, b = os.path.join(out_dir, "a.npy"), os.path.join(out_dir, "b.npy")
    one = ["attribute", "--model", f["model"], "--input", f["x"], "--target", "1"]
    two = ["attribute", "--model", f["two"], "--input", f["x"], "--input", f["x"],
           "--target", "1"]
    regular_file = write("a_regular_file", b"x")
    os.makedirs(os.path.join(out_dir, "existing_dir.npy"), exist_ok=True)
    cases = [
        ("--output with unknown extension", one + ["--output", os.path.join(out_dir, "a.txt")],
         2, ["--output", "a.txt: unknown extension (expected .npy or .pt)"]),
        ("--output without extension", one + ["--output", os.path.join(out_dir, "a")], 2,
         ["unknown extension"]),
        ("--output a folder name (trailing /)", one + ["--output", out_dir + "/"], 2,
         ["unknown extension"]),
        ("duplicate --output", two + ["--output", a, "--output", a], 2,
         [f"--output {a} is given twice"]),
        ("duplicate --output spelled differently", two + [
            "--output", a, "--output", os.path.join(out_dir, ".", "a.npy")], 2,
         ["is given twice"]),
        ("more --output than --input", one + ["--output", a, "--output", b], 2,
         ["1 --input but 2 --output given"]),
        ("fewer --output than --input", two + ["--output", a], 2,
         ["2 --input but 1 --output given"]),
        ("missing --output", one, 2, ["--output is required"]),
        ("output folder does not exist", one + ["--output", os.path.join(
            out_dir, "no", "such", "a.npy")], 1,
         ["a.npy: cannot create a file there: No such file or directory"]),
        ("output folder is a regular file", one + ["--output", os.path.join(
            regular_file, "a.npy")], 1, ["cannot create a file there: Not a directory"]),
        ("output is an existing directory", one + ["--output", os.path.join(
            out_dir, "existing_dir.npy")], 1, ["existing_dir.npy: cannot write: Is a directory"]),
    ]
    for row, argv, code, words in cases:
        check(f"attribute {row}",
              lambda argv=argv, code=code, words=words: expect_error(
                  argv, code, words, [out_dir]))

    def second_output_fails():
        # The first output could be written, the second cannot: neither is left.
        d = fresh_dir("out_half")
        proc = run(*(two + ["--output", os.path.join(d, "a.npy"), "--output",
                            os.path.join(d, "missing_folder", "b.npy")]))
        assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
        no_leftovers(d)
    check("attribute second --output unwritable: no output left", second_output_fails)


def area_forward_args(f):
    out_dir = fresh_dir("out_fwd")
    out = os.path.join(out_dir, "a.npy")
    base = ["attribute", "--model", f["model"], "--input", f["x"], "--target", "1",
            "--output", out]
    cases = [
        ("--forward-arg missing file", "nope.npy", ["nope.npy: no such file"]),
        ("--forward-arg a directory", path("folder.npy"), ["folder.npy: is a directory"]),
        ("--forward-arg unreadable (read fails)", path("unreadable.npy"),
         ["unreadable.npy: cannot read"]),
        ("--forward-arg corrupt .npy", write("fa_bad.npy", b"garbage"),
         ["fa_bad.npy: not a .npy file"]),
        ("--forward-arg corrupt .pt", write("fa_bad.pt", b"garbage"),
         ["fa_bad.pt: not a readable .pt tensor file"]),
        ("--forward-arg neither number nor file", "banana",
         ["--forward-arg 'banana': neither a number, true/false, nor a .npy/.pt file"]),
        ("--forward-arg empty", "", ["--forward-arg '': neither a number"]),
        ("--forward-arg integer beyond 64 bits", "99999999999999999999",
         ["--forward-arg '99999999999999999999': integer out of the 64-bit range"]),
    ]
    for row, value, words in cases:
        check(f"attribute {row}",
              lambda value=value, words=words: expect_error(
                  base + ["--forward-arg", value], 1, words, [out_dir]))


def area_usage(f):
    out_dir = fresh_dir("out_usage")
    out = os.path.join(out_dir, "a.npy")
    cases = [
        ("no subcommand", [], 2, ["A subcommand is required"]),
        ("unknown subcommand", ["frobnicate"], 2, ["subcommand"]),
        ("unknown option", ["attribute", "--model", f["model"], "--input", f["x"],
                            "--output", out, "--colour"], 2, ["--colour"]),
        ("missing --model", ["attribute", "--input", f["x"], "--output", out], 2,
         ["--model is required"]),
        ("missing --input", ["attribute", "--model", f["model"], "--output", out], 2,
         ["--input is required"]),
        ("bad --method", ["attribute", "--model", f["model"], "--input", f["x"], "--method",
                          "lrp", "--output", out], 2, ["--method", "lrp"]),
        ("--abs without saliency", ["attribute", "--model", f["model"], "--input", f["x"],
                                    "--abs", "--target", "1", "--output", out], 2,
         ["--abs applies to --method saliency only"]),
        ("--device gpu", ["attribute", "--model", f["model"], "--input", f["x"],
                          "--device", "gpu", "--output", out], 2,
         ["--device", "'gpu' is not a device; use cpu, cuda or cuda:N"]),
        ("--device cuda:x", ["explain", "--model", f["model"], "--device", "cuda:x",
                             "--out-dir", out_dir, f["rgb"]], 2,
         ["'cuda:x' is not a device"]),
        ("--threads 0", ["attribute", "--model", f["model"], "--input", f["x"],
                         "--threads", "0", "--output", out], 2, ["--threads", "0"]),
    ]
    for row, argv, code, words in cases:
        check(f"usage {row}",
              lambda argv=argv, code=code, words=words: expect_error(argv, code, words,
                                                                     [out_dir]))

    # A LibTorch without CUDA (Debian's) or a machine without a GPU: one line
    # naming the cause and --device cpu, before anything is read or written.
    if not torch.cuda.is_available():
        for sub, argv in (
                ("attribute", ["--input", f["x"], "--output", out]),
                ("explain", ["--out-dir", os.path.join(out_dir, "maps"), f["rgb"]])):
            for device in ("cuda", "cuda:1"):
                check(f"{sub} --device {device} without CUDA",
                      lambda sub=sub, argv=argv, device=device: expect_error(
                          [sub, "--model", f["model"], "--device", device] + argv, 1,
                          [f"--device {device}: ", "use --device cpu"], [out_dir]))


def area_explain(f):
    rgb = f["rgb"]
    good = write_png(path("good.png"), (np.random.RandomState(0).rand(5, 5, 3) * 255)
                     .astype(np.uint8))
    gray = write_png(path("gray.png"), (np.random.RandomState(1).rand(5, 5) * 255)
                     .astype(np.uint8))
    big = write_png(path("big.png"), (np.random.RandomState(2).rand(9, 9, 3) * 255)
                    .astype(np.uint8))
    png = open(good, "rb").read()
    crc = bytearray(png)
    crc[40] ^= 0xff
    huge = write("huge.png", b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)) +
        png_chunk(b"IDAT", zlib.compress(b"\0" * 100)) + png_chunk(b"IEND", b""))
    jpeg = None
    try:
        import torchvision.io as tio
        jpeg = path("good.jpg")
        tio.write_jpeg(torch.from_numpy((np.random.RandomState(3).rand(3, 16, 16) * 255)
                                        .astype(np.uint8)), jpeg)
    except Exception:  # noqa: BLE001
        try:
            from PIL import Image
            jpeg = path("good.jpg")
            Image.fromarray((np.random.RandomState(3).rand(16, 16, 3) * 255)
                            .astype(np.uint8)).save(jpeg)
        except Exception:  # noqa: BLE001
            jpeg = None
    bad_images = [
        # (file, key words of its failure line)
        (path("missing.png"), "missing.png: no such file"),
        (write("empty.png", b""), "empty.png: not a PNG or JPEG image"),
        (write("text.png", b"hello world"), "text.png: not a PNG or JPEG image"),
        (path("unreadable.png"), "unreadable.png: cannot read"),
        (write("cut.png", png[:len(png) - 20]), "cut.png: corrupt PNG"),
        (write("crc.png", bytes(crc)), "crc.png: corrupt PNG"),
        (huge, "huge.png: image of 20000x20000 pixels is empty or larger than the limit"),
    ]
    if jpeg is not None:
        j = open(jpeg, "rb").read()
        broken = bytearray(j)
        for i in range(len(j) // 2, len(j) // 2 + 50):
            broken[i] = 0xff
        bad_images += [
            (write("cut.jpg", j[:len(j) // 2]), "cut.jpg: corrupt JPEG"),
            (write("head.jpg", j[:200]), "head.jpg: corrupt JPEG"),
            (write("broken.jpg", bytes(broken)), "broken.jpg: corrupt JPEG"),
        ]

    # Once the model has run on an image, an image it cannot take fails alone.
    bad_images.append((big, "big.png: RuntimeError:"))  # 9 x 9 for a 5 x 5 model

    def keeps_going():
        out_dir = fresh_dir("out_explain_mixed")
        images = [bad_images[0][0], good] + [b for b, _ in bad_images[1:]]
        proc = run("explain", "--model", rgb, "--out-dir", out_dir, *images)
        assert proc.returncode == 1, proc.stderr
        err = proc.stderr.splitlines()
        assert len(err) == len(bad_images) + 1, proc.stderr
        for (image, words), line in zip(bad_images, err):
            assert line.startswith("guidedbp: ") and words in line, (words, line)
        assert err[-1] == f"guidedbp: {len(bad_images)} of {len(images)} images failed", err[-1]
        lines = proc.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith(good + ": predicted "), proc.stdout
        written = lines[0].split(" -> ")[1]
        assert os.listdir(out_dir) == [os.path.basename(written)], os.listdir(out_dir)
    check("explain bad images among a good one: all reported at the end, exit 1, good kept",
          keeps_going)

    for image, words in bad_images[:-1]:
        def alone(image=image, words=words):
            out_dir = fresh_dir("out_explain_" + os.path.basename(image).replace(".", "_"))
            proc = run("explain", "--model", rgb, "--out-dir", out_dir, image)
            assert proc.returncode == 1, proc.stderr
            err = proc.stderr.splitlines()
            assert len(err) == 2 and words in err[0], proc.stderr
            assert err[1] == "guidedbp: 1 of 1 images failed", err
            no_leftovers(out_dir)
        check(f"explain image: {words.split(': ', 1)[1]} ({os.path.basename(image)})", alone)

    def per_image(row, argv, words, model=rgb):
        def body():
            out_dir = fresh_dir("out_explain_" + row.replace(" ", "_").replace("-", ""))
            proc = run("explain", "--model", model, "--out-dir", out_dir, *argv, good)
            assert proc.returncode == 1, proc.stderr
            err = proc.stderr.splitlines()
            assert len(err) == 2 and err[0].startswith(f"guidedbp: {good}: "), proc.stderr
            for word in words:
                assert word in err[0], (word, err[0])
            assert err[1] == "guidedbp: 1 of 1 images failed", err
            no_leftovers(out_dir)
        check(f"explain {row}", body)


    def run_wide(row, argv, words, images=(good,)):
        def body():
            out_dir = fresh_dir("out_explain_" + row.replace(" ", "_").replace("-", ""))
            expect_error(["explain", "--model", rgb, "--out-dir", out_dir] + argv + list(images),
                         1, words, [out_dir])
        check(f"explain {row}", body)

    def run_wide_model(row, model, words, argv=(), images=(good,)):
        def body():
            out_dir = fresh_dir("out_explain_" + row.replace(" ", "_").replace("-", ""))
            expect_error(["explain", "--model", model, "--out-dir", out_dir] + list(argv) +
                         list(images), 1, words, [out_dir])
        check(f"explain {row}", body)

    # Mistakes that would fail every image: one line, before any image.
    # The model fails on the whole first batch (it has run on no image yet):
    # the preprocessed input does not fit it, whatever the image.
    run_wide_model("model returns a tuple", f["tuple"],
                   ["returned a Tuple", "one output tensor of scores"])
    run_wide_model("model returns a dict", f["dict"],
                   ["returned a GenericDict", "one output tensor of scores"])
    run_wide_model("model for N x C scores of another shape", f["model"],
                   ["the model takes 2-channel input but the image has 3", "guidedbp attribute"])
    # Issue 16, finding 3: a wrong --resize failed every image with
    # "mat1 and mat2 shapes cannot be multiplied", two lines per image.
    many = [write_png(path(f"many_{i}.png"), (np.random.RandomState(10 + i).rand(5, 5, 3) * 255)
                      .astype(np.uint8)) for i in range(40)]
    for batch in ("1", "8"):
        run_wide_model(f"--resize to a size the model cannot take, 40 images, batch {batch}",
                       rgb, ["the model cannot run on the preprocessed images",
                             "input [1, 3, 7, 7]", "from --resize 7", "set --resize/--center-crop"],
                       argv=["--resize", "7", "--batch-size", batch], images=many)
    run_wide_model("--center-crop to a size the model cannot take", rgb,
                   ["input [1, 3, 3, 3]", "from --center-crop 3"],
                   argv=["--center-crop", "3"], images=many)
    run_wide_model("an image of a size the model cannot take, alone", rgb,
                   ["big.png becomes input [1, 3, 9, 9] (as decoded)", "RuntimeError:"],
                   images=(big,))
    run_wide("--target out of range", ["--target", "9"],
             ["--target 9 is out of range for a model with 4 classes"])
    run_wide("--target -5 out of range", ["--target", "-5"], ["--target -5 is out of range"])
    run_wide("--top-k above the class count", ["--top-k", "9"],
             ["--top-k 9 but the model has only 4 classes"])
    run_wide("a folder without images", [], ["no images found in", "folder.png"],
             images=(path("folder.png"),))

    def gray_converted():
        out_dir = fresh_dir("out_explain_gray")
        proc = run("explain", "--model", rgb, "--out-dir", out_dir, gray, good, expect=0)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"guidedbp: warning: {gray}: "), \
            proc.stderr
        assert "grayscale image converted to RGB" in lines[0] and "--rgb" in lines[0], lines
        assert len(os.listdir(out_dir)) == 2, os.listdir(out_dir)
    check("explain gray image for an RGB model: converted, said once", gray_converted)
    # Normalisation that cannot fit any image: usage errors, said once before
    # any image (issue 16, finding 3; they used to fail each image).
    def usage(row, argv, words):
        def body():
            out_dir = fresh_dir("out_explain_" + row.replace(" ", "_").replace("-", ""))
            expect_error(["explain", "--model", rgb, "--out-dir", out_dir] + argv + many, 2,
                         words, [out_dir])
        check(f"explain {row}: usage error, once", body)
    usage("--mean count not matching channels", ["--mean", "0.5,0.5", "--std", "1,1"],
          ["--mean has 2 values but every image goes to the model with 3 channels"])
    usage("--std count not matching channels", ["--mean", "0.5", "--std", "1,1,1,1"],
          ["--std has 4 values"])
    usage("--std zero", ["--mean", "0.5", "--std", "0"],
          ["--std 0: std values must be finite and non-zero"])
    usage("--std zero among others", ["--mean", "0.5", "--std", "1,0,1"], ["--std 0"])
    usage("--mean NaN", ["--mean", "nan", "--std", "1"], ["--mean values must be finite"])
    usage("--mean Inf", ["--mean", "inf", "--std", "1"], ["--mean values must be finite"])

    def no_relu():
        out_dir = fresh_dir("out_explain_norelu")
        proc = run("explain", "--model", f["norelu"], "--out-dir", out_dir, good)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"guidedbp: warning: {good}: "), \
            proc.stderr
        assert "plain gradient" in lines[0], lines[0]
        assert len(os.listdir(out_dir)) == 1
    check("explain model without ReLUs: warning, map written", no_relu)

    regular_file = write("explain_regular_file", b"x")
    out_dir = fresh_dir("out_explain_global")
    cases = [
        ("--out-dir is a regular file", ["--out-dir", regular_file], 1,
         [f"--out-dir {regular_file}: not a directory"]),
        ("--out-dir below a regular file", ["--out-dir", os.path.join(regular_file, "sub")], 1,
         ["cannot create", "Not a directory"]),
        ("--out-dir cannot be created", ["--out-dir", "/proc/guidedbp_no/maps"], 1,
         ["--out-dir /proc/guidedbp_no/maps: cannot create /proc/guidedbp_no"]),
        ("model missing", ["--out-dir", out_dir, "--model", path("nope.pt")], 1,
         ["nope.pt: no such file"]),
        ("model corrupt", ["--out-dir", out_dir, "--model", f["model_corrupt"]], 1,
         ["not a TorchScript model"]),
        ("--labels missing", ["--out-dir", out_dir, "--labels", path("nope.txt")], 1,
         ["nope.txt: no such file"]),
        ("--labels a directory", ["--out-dir", out_dir, "--labels", path("folder.png")], 1,
         ["is a directory"]),
        ("--top-k 0", ["--out-dir", out_dir, "--top-k", "0"], 2,
         ["--top-k", "Value 0 not in range"]),  # CLI11 2.3 and 2.4 differ after this
        ("--target not an integer", ["--out-dir", out_dir, "--target", "x"], 2, ["--target"]),
        ("--target with --top-k", ["--out-dir", out_dir, "--target", "1", "--top-k", "2"], 2,
         ["excludes"]),
        ("--mean without --std", ["--out-dir", out_dir, "--mean", "0.5"], 2,
         ["--mean and --std go together"]),
        ("--mean not a number", ["--out-dir", out_dir, "--mean", "a", "--std", "1"], 2,
         ["--mean"]),
        ("--grayscale with --rgb", ["--out-dir", out_dir, "--grayscale", "--rgb"], 2,
         ["excludes"]),
        ("--resize 0", ["--out-dir", out_dir, "--resize", "0"], 2,
         ["--resize 0: expected N", "or H,W", "--resize 224,224"]),
        ("--resize not a number", ["--out-dir", out_dir, "--resize", "big"], 2,
         ["--resize big: expected N"]),
        ("--resize with three sizes", ["--out-dir", out_dir, "--resize", "2,3,4"], 2,
         ["--resize 2,3,4: expected N", "or H,W"]),
        ("--resize H, without W", ["--out-dir", out_dir, "--resize", "224,"], 2,
         ["--resize 224,: expected N"]),
        ("--resize above 16384", ["--out-dir", out_dir, "--resize", "224,20000"], 2,
         ["--resize 224,20000", "each 1 to 16384"]),
        ("bad --visual", ["--out-dir", out_dir, "--visual", "sparkles"], 2, ["--visual"]),
        ("--outlier-perc above 100", ["--out-dir", out_dir, "--outlier-perc", "101"], 2,
         ["--outlier-perc"]),
        ("--scale 0", ["--out-dir", out_dir, "--scale", "0"], 2, ["--scale"]),
        ("missing --out-dir", [], 2, ["--out-dir is required"]),
    ]
    for row, argv, code, words in cases:
        def body(argv=argv, code=code, words=words):
            model_args = [] if "--model" in argv else ["--model", rgb]
            expect_error(["explain"] + model_args + argv + [good], code, words, [out_dir])
        check(f"explain {row}", body)

    check("explain no images", lambda: expect_error(
        ["explain", "--model", rgb, "--out-dir", out_dir], 2, ["no images", "--files-from"],
        [out_dir]))


def area_layers(f):
    """Rows C108-C121: the layer and neuron methods (issue 10)."""
    out_dir = fresh_dir("out_layers")
    out = os.path.join(out_dir, "a.npy")
    model, x, grid, grid_x = f["model"], f["x"], f["grid"], f["grid_x"]
    gc = ["attribute", "--model", model, "--input", x, "--output", out,
          "--method", "guided-gradcam"]
    ngbp = ["attribute", "--model", model, "--input", x, "--output", out,
            "--method", "neuron-guided-backprop"]
    cases = [
        ("guided-gradcam without --layer", gc + ["--target", "1"], 2,
         ["--method guided-gradcam needs --layer PATH"]),
        ("neuron method without --layer", ngbp + ["--neuron", "(0, 1, 1)"], 2,
         ["--method neuron-guided-backprop needs --layer PATH"]),
        ("neuron method without --neuron", ngbp + ["--layer", "conv"], 2,
         ["needs --neuron SPEC"]),
        ("--target with a neuron method", ngbp + ["--layer", "conv", "--neuron", "(0, 1, 1)",
                                                  "--target", "1"], 2,
         ["--target does not apply to --method neuron-guided-backprop"]),
        ("--layer with guided-backprop", ["attribute", "--model", model, "--input", x,
                                          "--output", out, "--layer", "conv"], 2,
         ["apply to --method guided-gradcam, neuron-guided-backprop"]),
        ("--neuron with guided-gradcam", gc + ["--layer", "conv", "--neuron", "1"], 2,
         ["--neuron and --attribute-to-neuron-input apply to"]),
        ("--interpolate with a neuron method", ngbp + ["--layer", "conv", "--neuron", "(0, 1, 1)",
                                                      "--interpolate", "area"], 2,
         ["--interpolate and --attribute-to-layer-input apply to --method guided-gradcam"]),
        ("bad --interpolate", gc + ["--layer", "conv", "--interpolate", "linear"], 2,
         ["--interpolate", "linear"]),
        ("unknown --layer", gc + ["--layer", "convv", "--target", "1"], 1,
         ["no layer 'convv'", "nearby names: conv"]),
        ("bad --neuron literal", ngbp + ["--layer", "conv", "--neuron", "(1,,2)"], 1,
         ["bad --neuron '(1,,2)'"]),
        ("--neuron list", ngbp + ["--layer", "conv", "--neuron", "[1, 2]"], 1,
         ["a neuron is an int"]),
        ("--neuron int on a 4-D layer", ngbp + ["--layer", "conv", "--neuron", "1"], 1,
         ["an int selects a neuron of a 2-D layer output", "e.g. (1, 0, 0)"]),
        ("--neuron out of range", ngbp + ["--layer", "conv", "--neuron", "(3, 0, 0)"], 1,
         ["index 3 is out of range for dimension 1 (size 3)"]),
        # Issue 16, finding 5: the third index was reported as dimension 1.
        ("--neuron third index out of range", ngbp + ["--layer", "conv", "--neuron",
                                                      "(2, 0, 7)"], 1,
         ["index 7 is out of range for dimension 3 (size 5)"]),
        ("--neuron range selects nothing", ngbp + ["--layer", "conv", "--neuron",
                                                   "(0, 5:9, 1)"], 1,
         ["range 5:9 selects nothing of dimension 2 (size 5)"]),
        ("--neuron too short: both completions shown",
         ngbp + ["--layer", "conv", "--neuron", "(2, 1)"], 1,
         ["leaves 5 values per example", "e.g. (2, 1, 0)", "e.g. (2, 1, 0:5)"]),
        ("--neuron range outside a tuple", ngbp + ["--layer", "conv", "--neuron", "0:2"], 1,
         ["bad --neuron '0:2'", "a range goes inside a tuple", "(0:4,1,2)"]),
        ("--neuron parse error lists the --neuron forms",
         ngbp + ["--layer", "conv", "--neuron", "(1,,2)"], 1,
         ["forms: 7, (5,1,2), (0:4,1,2)"]),
        ("--neuron too long", ngbp + ["--layer", "conv", "--neuron", "(0, 0, 0, 0)"], 1,
         ["has 4 indices"]),
        ("--neuron leaves several values", ngbp + ["--layer", "conv", "--neuron", "(0,)"], 1,
         ["leaves 25 values per example"]),
        ("map cannot be upsampled to the input",
         ["attribute", "--model", grid, "--input", grid_x, "--output", out,
          "--method", "guided-gradcam", "--layer", "fc1", "--target", "(1, 2)"], 1,
         ["cannot be upsampled to this input"]),
        ("--attribute-to-layer-input with a neuron method",
         ngbp + ["--layer", "conv", "--neuron", "(0, 1, 1)", "--attribute-to-layer-input"], 2,
         ["--interpolate and --attribute-to-layer-input apply to"]),
        ("explain guided-gradcam without --layer",
         ["explain", "--model", f["rgb"], "--method", "guided-gradcam", "--out-dir", out_dir,
          path("good.png")], 2, ["--method guided-gradcam needs --layer PATH"]),
        ("explain --gradcam-map without guided-gradcam",
         ["explain", "--model", f["rgb"], "--gradcam-map", "--out-dir", out_dir,
          path("good.png")], 2, ["apply to --method guided-gradcam only"]),
        ("explain unknown --layer",
         ["explain", "--model", f["rgb"], "--method", "guided-gradcam", "--layer", "nope",
          "--out-dir", out_dir, path("good.png")], 1, ["no layer 'nope'"]),
        ("layers --input-size 0", ["layers", "--model", model, "--input-size", "1,0,5,5"], 2,
         ["every size must be at least 1"]),
        ("layers missing model", ["layers", "--model", path("nope.pt")], 1, ["no such file"]),
    ]
    for row, argv, code, words in cases:
        check(f"layers {row}",
              lambda argv=argv, code=code, words=words: expect_error(argv, code, words,
                                                                     [out_dir]))


AREAS = {"files": area_files, "model": area_model, "targets": area_targets,
         "outputs": area_outputs, "forward_args": area_forward_args, "usage": area_usage,
         "explain": area_explain, "layers": area_layers}


if __name__ == "__main__":
    sys.exit(main(__doc__, AREAS, setup=make_files, prefix="guidedbp_bad_input_test_"))
