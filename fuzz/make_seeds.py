#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Small files, valid and broken, one per feature of each format. Run with
Debian's /usr/bin/python3 (numpy; PIL comes with python3-torchvision):

    /usr/bin/python3 fuzz/make_seeds.py

The output is deterministic and committed; rerun only to change the seeds.
"""
import io
import os
import shutil
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    path = os.path.join(CORPUS, target, name)
    with open(path, "wb") as f:
        f.write(data)


def npy_bytes(array, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def raw_npy(dict_text, data=b"", version=1):
    header = dict_text.encode("latin1")
    if version == 1:
        prefix = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header))
    else:
        prefix = b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(header))
    return prefix + header + data


def npy_seeds():
    rng = np.random.default_rng(0)
    write("fuzz_npy", "f32_2x3.npy", npy_bytes(rng.standard_normal((2, 3)).astype("<f4")))
    write("fuzz_npy", "f64_scalar.npy", npy_bytes(np.float64(1.5)))
    write("fuzz_npy", "f16_1d.npy", npy_bytes(np.arange(5, dtype="<f2")))
    write("fuzz_npy", "i64_1x1x2x2.npy", npy_bytes(np.arange(4, dtype="<i8").reshape(1, 1, 2, 2)))
    write("fuzz_npy", "u8_empty_0x3.npy", npy_bytes(np.zeros((0, 3), dtype="|u1")))
    write("fuzz_npy", "bool_3.npy", npy_bytes(np.array([True, False, True])))
    write("fuzz_npy", "i32_2x3.npy", npy_bytes(np.arange(6, dtype="<i4").reshape(2, 3)))
    write("fuzz_npy", "v2_f32.npy", npy_bytes(np.ones((1, 2), dtype="<f4"), version=(2, 0)))
    write("fuzz_npy", "v3_f32.npy", npy_bytes(np.ones((2,), dtype="<f4"), version=(3, 0)))
    # Broken or rejected ones.
    valid = npy_bytes(np.ones((2, 2), dtype="<f4"))
    write("fuzz_npy", "bad_truncated_data.npy", valid[:-3])
    write("fuzz_npy", "bad_truncated_header.npy", valid[:30])
    write("fuzz_npy", "bad_magic.npy", b"\x93NUMPX" + valid[6:])
    write("fuzz_npy", "bad_version.npy", valid[:6] + b"\x04\x00" + valid[8:])
    write("fuzz_npy", "bad_fortran.npy", npy_bytes(np.asfortranarray(np.ones((2, 3), dtype="<f4"))))
    write("fuzz_npy", "bad_big_endian.npy", npy_bytes(np.ones((2,), dtype=">f4")))
    write("fuzz_npy", "bad_dtype_complex.npy", npy_bytes(np.ones((1,), dtype="<c8")))
    write("fuzz_npy", "bad_missing_key.npy",
          raw_npy("{'descr': '<f4', 'shape': (1,), }\n", b"\0" * 4))
    write("fuzz_npy", "bad_overflow_shape.npy",
          raw_npy("{'descr': '<f8', 'fortran_order': False, "
                  "'shape': (4294967296, 4294967296, 16), }\n"))
    write("fuzz_npy", "bad_long_dim.npy",
          raw_npy("{'descr': '<f4', 'fortran_order': False, "
                  "'shape': (99999999999999999999,), }\n"))
    write("fuzz_npy", "odd_python2_L_keys_reordered.npy",
          raw_npy("{\"shape\": (2L, 1L), \"fortran_order\": False, \"descr\": \"=f4\"}\n",
                  b"\0" * 8))


def target_seeds():
    seeds = {
        "int": "3", "negative": "-1", "plus": "+2", "none": "None",
        "tuple": "(1, 2)", "tuple1": "(1,)", "paren_int": "(3)",
        "list": "[3, 1, 0]", "list_trailing": "[ 3 ,1,0 , ]",
        "tuples": "[(0, 1), (2, 3)]", "tuples_mixed_len": "[(0,), (2, 3, 4),]",
        "max": "9223372036854775807", "min": "-9223372036854775808",
        "bad_overflow": "9223372036854775808", "bad_double_comma": "[1,,2]",
        "bad_float": "1.5", "bad_mixed": "[(1), 2]", "bad_empty_list": "[]",
        "bad_empty_tuple": "()", "bad_unclosed": "[(1, 2", "bad_nested": "[[1]]",
        "bad_trailing": "3 4", "bad_control": "[1,\x012]", "whitespace": "\t[ 1 ,\n 2 ]\r",
        # --neuron literals (the same bytes are parsed both ways).
        "neuron_ranges": "(0:4, 1, 2)", "neuron_open": "(:, 3:, :-1)",
        "neuron_range1": "(2:5)", "bad_neuron_bare_range": "0:4",
    }
    for name, text in seeds.items():
        write("fuzz_target_literal", name + ".txt", text.encode("latin1"))


def png_bytes(image, **kwargs):
    buf = io.BytesIO()
    image.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


def jpeg_bytes(image, **kwargs):
    buf = io.BytesIO()
    image.save(buf, format="JPEG", **kwargs)
    return buf.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def image_seeds():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (4, 7), dtype=np.uint8)
    rgba = rng.integers(0, 256, (3, 3, 4), dtype=np.uint8)
    out = "fuzz_image"
    write(out, "rgb.png", png_bytes(Image.fromarray(rgb, "RGB")))
    write(out, "gray.png", png_bytes(Image.fromarray(gray, "L")))
    write(out, "rgba.png", png_bytes(Image.fromarray(rgba, "RGBA")))
    write(out, "gray_alpha.png", png_bytes(Image.fromarray(rgba[..., :2].copy(), "LA")))
    write(out, "palette.png", png_bytes(Image.fromarray(rgb, "RGB").convert("P")))
    write(out, "gray16.png",
          png_bytes(Image.fromarray((gray.astype(np.uint16) * 257).astype(np.uint16), "I;16")))
    write(out, "bilevel.png", png_bytes(Image.fromarray(gray > 128)))
    write(out, "optimized.png", png_bytes(Image.fromarray(rgb, "RGB"), optimize=True))
    write(out, "rgb.jpg", jpeg_bytes(Image.fromarray(rgb, "RGB"), quality=90))
    write(out, "gray.jpg", jpeg_bytes(Image.fromarray(gray, "L")))
    write(out, "progressive.jpg", jpeg_bytes(Image.fromarray(rgb, "RGB"), progressive=True))
    write(out, "cmyk.jpg", jpeg_bytes(Image.fromarray(rgb, "RGB").convert("CMYK")))
    write(out, "subsampled_17x9.jpg",
          jpeg_bytes(Image.fromarray(rng.integers(0, 256, (9, 17, 3), dtype=np.uint8), "RGB"),
                     subsampling=2))
    # Broken ones.
    valid_png = png_bytes(Image.fromarray(rgb, "RGB"))
    write(out, "bad_truncated.png", valid_png[: len(valid_png) // 2])
    corrupt = bytearray(valid_png)
    corrupt[40] ^= 0xFF  # inside IDAT: a CRC/zlib error
    write(out, "bad_crc.png", bytes(corrupt))
    # An IHDR that claims 20000 x 20000 (past the limit), no data.
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    write(out, "bad_huge.png",
          b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b""))
    # 1 x 1 RGB with a short IDAT (decompresses to too few bytes).
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    write(out, "bad_short_idat.png",
          b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
          png_chunk(b"IDAT", zlib.compress(b"\0\1")) + png_chunk(b"IEND", b""))
    valid_jpg = jpeg_bytes(Image.fromarray(rgb, "RGB"))
    write(out, "bad_truncated.jpg", valid_jpg[: len(valid_jpg) * 2 // 3])
    write(out, "bad_header_only.jpg", valid_jpg[:20])
    write(out, "bad_signature.bin", b"GIF89a" + b"\0" * 10)


def request(verb, content_type, query, body):
    """A fuzz_serve_request input: verb byte, Content-Type, query, body."""
    return bytes([1 if verb == "explain" else 0]) + content_type.encode() + b"\n" + \
        query.encode() + b"\n" + body


def serve_request_seeds():
    t = "fuzz_serve_request"
    x = np.random.default_rng(1).standard_normal((2, 1, 3, 3)).round(3).tolist()
    import json
    j = lambda o: json.dumps(o).encode()  # noqa: E731
    png = png_bytes(Image.fromarray(np.zeros((4, 4), dtype=np.uint8)))
    write(t, "predict_json", request("predict", "application/json", "", j({"instances": x})))
    write(t, "explain_target", request("explain", "application/json; charset=utf-8", "",
                                       j({"instances": x, "parameters": {"target": 3}})))
    write(t, "explain_literal", request("explain", "", "", j(
        {"instances": x, "parameters": {"method": "saliency", "abs": True,
                                        "target": "[(0, 1), (2, 3)]"}})))
    write(t, "scalar_instances", request("predict", "text/plain", "", b'{"instances": [1, 2.5e3]}'))
    write(t, "curl_default", request("predict", "application/x-www-form-urlencoded", "",
                                     b'{"instances": [[1e38, -1e-40]]}'))
    write(t, "image_query", request("explain", "IMAGE/PNG", "target=-1&method=deconvolution&"
                                    "sign=all&visual=blended_heat_map&outlier_perc=1.5&scale=8",
                                    png))
    write(t, "image_jpg", request("predict", "image/jpg", "", b"\xff\xd8\xff"))
    write(t, "multipart", request("explain", "multipart/form-data; boundary=x", "",
                                  b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\n"))
    write(t, "deep", request("predict", "application/json", "",
                             b'{"instances": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}"))
    write(t, "huge_number", request("predict", "application/json", "", b'{"instances": [1e999]}'))
    write(t, "ragged", request("predict", "application/json", "", b'{"instances": [[1], [1, 2]]}'))


def zip_seeds():
    """Small archives as torch.jit.save writes them (stored and deflated
    entries), and broken ones: cut, a flipped byte inside an entry, an
    empty file, a directory pointing past the end."""
    import zipfile
    t = "fuzz_zip_check"

    def archive(compression):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression) as z:
            z.writestr("model/data.pkl", b"\x80\x02}q\x00." * 8)
            z.writestr("model/data/0", bytes(range(256)) * 4)
            z.writestr("model/version", b"3\n")
        return buf.getvalue()
    stored = archive(zipfile.ZIP_STORED)
    deflated = archive(zipfile.ZIP_DEFLATED)
    write(t, "stored.pt", stored)
    write(t, "deflated.pt", deflated)
    write(t, "bad_cut.pt", stored[: len(stored) // 2])
    flipped = bytearray(deflated)
    flipped[60] ^= 0xFF
    write(t, "bad_flipped.pt", bytes(flipped))
    write(t, "bad_empty.pt", b"")
    end = bytearray(stored)
    eocd = bytes(end).rfind(b"PK\x05\x06")
    end[eocd + 16:eocd + 20] = struct.pack("<I", 0x7FFFFFF0)  # directory offset
    write(t, "bad_directory_offset.pt", bytes(end))


def main():
    for target in ("fuzz_npy", "fuzz_target_literal", "fuzz_image", "fuzz_serve_request",
                   "fuzz_zip_check"):
        path = os.path.join(CORPUS, target)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
    npy_seeds()
    target_seeds()
    image_seeds()
    serve_request_seeds()
    zip_seeds()


if __name__ == "__main__":
    main()
