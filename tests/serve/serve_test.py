#!/usr/bin/python3
"""End-to-end tests of `guidedbp serve`, run by CTest, with a real HTTP client.

Each --area starts its own server(s) on a free loopback port, prints one line
per check and a final "N passed, M failed", and exits non-zero when any
failed. Explanations are compared with the INDEPENDENT Python reference
(tests/reference/torch_reference.py) on the eager models of
tests/cli/harness.py, and with `guidedbp attribute` / `guidedbp explain` on
the same inputs. Every loop is bounded; every socket has a timeout. The runner,
check() and the models come from tests/cli/harness.py.

Run with Debian's interpreter: /usr/bin/python3 (python3-torch, numpy).
"""
import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # cdp.py
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
from harness import (ARGS, Classifier, Grid, Scalar, check, expect_error,  # noqa: E402
                     main, make_model, path, read_png, reference, run, shipped)


class Server:
    """`guidedbp serve` on a free port; stderr (the access log) in a file."""

    def __init__(self, models, *options):
        self.log_path = path(f"serve-{time.monotonic_ns()}.log")
        self.log = open(self.log_path, "w")
        argv = [ARGS.cli, "serve", "--port", "0"]
        for name, p in models.items():
            argv += ["--model", f"{name}={p}"]
        argv += [str(o) for o in options]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        self.port = None
        while time.monotonic() < deadline and self.port is None:
            m = re.search(r"on http://[^:]+:(\d+)/", open(self.log_path).read())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.text()}")
            else:
                time.sleep(0.05)
        assert self.port, "serve did not start within 60 s: " + self.text()

    def text(self):
        return open(self.log_path).read()

    def request(self, method, url, body=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, url, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), data
        finally:
            conn.close()

    def json(self, method, url, body=None, expect=200, headers=None):
        status, hdrs, data = self.request(method, url, body, headers)
        assert status == expect, f"{method} {url}: {status}, expected {expect}: {data[:300]}"
        assert hdrs.get("Content-Type", "").startswith("application/json"), hdrs
        return json.loads(data)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()


def models():
    """The CLI tests' eager models (harness.py), scripted: {name: (eager, path)}."""
    return {name: make_model(cls, f"{name}.pt", seed + 11)
            for seed, (name, cls) in enumerate([("cls", Classifier), ("grid", Grid),
                                                ("scalar", Scalar)])}


def assert_close(actual, expected, what=""):
    """`actual` as the server sends it (nested JSON lists) against a tensor."""
    actual = torch.as_tensor(np.asarray(actual, dtype=np.float32))
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    diff = (actual - expected.float()).abs().max().item()
    assert torch.allclose(actual, expected.float(), rtol=1e-4, atol=1e-5), \
        f"{what}: max abs difference {diff}"
    return diff


RULES = {"guided-backprop": "guided", "deconvolution": "deconvolution", "saliency": "plain"}


def fashion():
    """The shipped model and its example images."""
    return shipped()[:2]


# ------------------------------------------------------------------- areas
def area_protocol():
    """The contract: health, models, :predict, :explain (JSON and image)."""
    m = models()
    fashion_model, images = fashion()
    paths = {k: v[1] for k, v in m.items()}
    paths["fashion"] = fashion_model
    torch.manual_seed(5)
    x = torch.randn(3, 2, 5, 5)
    xg = torch.randn(2, 6)
    with Server(paths, "--max-batch-size", 1) as s:
        check("health live", lambda: s.json("GET", "/v2/health/live"))
        check("health ready", lambda: s.json("GET", "/v2/health/ready"))

        def list_models():
            assert s.json("GET", "/v1/models") == {"models": ["cls", "grid", "scalar", "fashion"]}
            assert s.json("GET", "/v1/models/grid") == {"name": "grid", "ready": True}
        check("models listed in --model order, one model's status", list_models)
    labels_file = shipped()[2]
    with Server({"fashion": fashion_model}, "--labels", f"fashion={labels_file}",
                "--quiet") as s:
        check("--labels: GET /v1/models/NAME lists the class names",
              lambda: assert_equal(s.json("GET", "/v1/models/fashion")["labels"],
                                   open(labels_file).read().splitlines()))
    with Server(paths, "--max-batch-size", 1) as s:

        def predict():
            out = s.json("POST", "/v1/models/cls:predict", {"instances": x.tolist()})
            with torch.no_grad():
                expected = m["cls"][0](x)
            assert_close(out["predictions"], expected, "predictions")
        check("predict equals the eager model", predict)

        def curl_default_type():
            # curl -d sends application/x-www-form-urlencoded; a JSON body over
            # 8 KiB must still be read as JSON.
            big = torch.randn(40, 2, 5, 5)
            out = s.json("POST", "/v1/models/cls:predict",
                         json.dumps({"instances": big.tolist()}).encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            with torch.no_grad():
                assert_close(out["predictions"], m["cls"][0](big), "url-encoded type")
        check("a large JSON body sent as curl -d's url-encoded type", curl_default_type)

        for method, rule in RULES.items():
            def explain(method=method, rule=rule):
                body = {"instances": x.tolist(),
                        "parameters": {"method": method, "target": 2}}
                out = s.json("POST", "/v1/models/cls:explain", body)
                d = assert_close(out["explanations"], reference(m["cls"][0], x, 2, rule=rule), method)
                print(f"     {method}: max |server - reference| = {d:.2e}")
            check(f"explain {method}, target 2, equals the reference", explain)

        def targets():
            for target, ref in [("(1, 2)", (1, 2)), ("[(0, 1), (2, 3)]", [(0, 1), (2, 3)]),
                                ("(-1, 0)", (-1, 0))]:
                out = s.json("POST", "/v1/models/grid:explain",
                             {"instances": xg.tolist(), "parameters": {"target": target}})
                assert_close(out["explanations"], reference(m["grid"][0], xg, ref), target)
            out = s.json("POST", "/v1/models/cls:explain",
                         {"instances": x.tolist(), "parameters": {"target": "[3, 1, 0]"}})
            assert_close(out["explanations"], reference(m["cls"][0], x, [3, 1, 0]), "list")
            out = s.json("POST", "/v1/models/scalar:explain", {"instances": xg.tolist()})
            assert_close(out["explanations"], reference(m["scalar"][0], xg, None), "none")
        check("explain targets: tuple, per-example tuples, list, omitted", targets)

        def equals_cli():
            np.save(path("x.npy"), x.numpy())
            run("attribute", "--model", paths["cls"], "--input", path("x.npy"), "--target",
                "[3, 1, 0]", "--method", "deconvolution", "--output", path("a.npy"), expect=0,
                timeout=120)
            out = s.json("POST", "/v1/models/cls:explain",
                         {"instances": x.tolist(),
                          "parameters": {"target": "[3, 1, 0]", "method": "deconvolution"}})
            cli = np.load(path("a.npy"))
            served = np.asarray(out["explanations"], dtype=np.float32)
            diff = float(np.abs(served - cli).max())
            assert diff <= 1e-6, diff
            print(f"     max |server - guidedbp attribute| = {diff:.2e}")
        check("explain equals `guidedbp attribute` on the same input", equals_cli)

        def image():
            for image_path in images[:3]:
                data = open(image_path, "rb").read()
                status, hdrs, png = s.request(
                    "POST", "/v1/models/fashion:explain?sign=all&visual=heat_map",
                    data, {"Content-Type": "image/png"})
                assert status == 200 and hdrs["Content-Type"] == "image/png", (status, png[:200])
                out_dir = path("maps")
                proc = run("explain", "--model", fashion_model, "--sign", "all", "--out-dir",
                           out_dir, image_path, expect=0, timeout=120)
                written = proc.stdout.strip().split(" -> ")[-1]
                predicted = re.search(r"predicted (\d+)", proc.stdout).group(1)
                assert hdrs["X-Predicted-Class"] == predicted, (hdrs, proc.stdout)
                assert hdrs["X-Target-Class"] == predicted, hdrs
                open(path("served.png"), "wb").write(png)
                assert np.array_equal(read_png(path("served.png")), read_png(written)), \
                    "the served map differs from `guidedbp explain`'s"
            data = open(images[0], "rb").read()
            status, hdrs, png = s.request("POST", "/v1/models/fashion:explain?target=3",
                                          data, {"Content-Type": "image/png"})
            assert status == 200 and hdrs["X-Target-Class"] == "3", (status, hdrs)
            out = s.json("POST", "/v1/models/fashion:predict", data,
                         headers={"Content-Type": "image/png"})
            assert len(out["predictions"]) == 1 and len(out["predictions"][0]) == 10, out
        check("image :explain equals `guidedbp explain`'s map; ?target; image :predict", image)

        def image_channels():
            # An RGB image for the 1-channel fashion model is converted with
            # the ITU-R 601-2 luma, as explain does (docs/cli.md).
            from cli_test import write_png
            rgb = (np.random.RandomState(4).rand(28, 28, 3) * 255).astype(np.uint8)
            write_png(path("rgb28.png"), rgb)
            out = s.json("POST", "/v1/models/fashion:predict", open(path("rgb28.png"), "rb").read(),
                         headers={"Content-Type": "image/png"})
            t = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)
            luma = (0.2989 * t[0] + 0.587 * t[1] + 0.114 * t[2])[None, None]
            with torch.no_grad():
                expected = torch.jit.load(fashion_model)(luma)
            assert_close(out["predictions"], expected, "RGB image for a 1-channel model")
        check("image :predict converts an RGB image to the model's 1 channel", image_channels)

        def metrics():
            status, hdrs, text = s.request("GET", "/metrics")
            text = text.decode()
            assert status == 200 and hdrs["Content-Type"].startswith("text/plain"), status
            assert re.search(r'guidedbp_requests_total\{route="explain",code="200"\} \d+', text)
            assert 'guidedbp_request_duration_seconds_bucket{route="explain",le="+Inf"}' in text
            assert 'guidedbp_batch_size_count{model="cls"}' in text
            assert 'guidedbp_queue_depth{model="fashion"} 0' in text
        check("metrics in Prometheus text format", metrics)

        def page():
            status, hdrs, html = s.request("GET", "/")
            assert status == 200 and hdrs["Content-Type"].startswith("text/html"), status
            assert b"<script>" in html and b"http" not in html.replace(b"http://", b""), html[:80]
        check("web page at /", page)

        def access_log():
            lines = [json.loads(line) for line in s.text().splitlines() if line.startswith("{")]
            assert lines and all({"time", "method", "path", "status", "ms"} <= set(l)
                                 for l in lines), lines[:2]
        check("one JSON access log line per request", access_log)
        check("SIGTERM: exit 0", lambda: assert_equal(s.stop(), 0))


def assert_equal(a, b):
    assert a == b, (a, b)


def area_batching():
    """Concurrent requests are batched; results equal unbatched ones; a bad
    request in a batch fails alone."""
    m = models()
    eager = m["cls"][0]
    torch.manual_seed(7)
    xs = [torch.randn(1 + i % 3, 2, 5, 5) for i in range(12)]
    targets = [i % 4 if i % 3 else f"[{', '.join(str((i + k) % 4) for k in range(len(xs[i])))}]"
               for i in range(12)]
    with Server({"cls": m["cls"][1]}, "--max-batch-size", 64, "--max-batch-delay-ms", 300,
                "--quiet") as s:
        def concurrent_batch():
            def one(i):
                body = {"instances": xs[i].tolist(), "parameters": {"target": targets[i]}}
                if i == 5:
                    body["parameters"]["target"] = 9  # out of range: fails alone
                if i == 8:
                    body["parameters"]["method"] = "saliency"
                return s.request("POST", "/v1/models/cls:explain", body)
            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                results = list(pool.map(one, range(12)))
            worst = 0.0
            for i, (status, _, data) in enumerate(results):
                if i == 5:
                    assert status == 400 and b"out of range" in data, (status, data)
                    continue
                assert status == 200, (i, status, data)
                t = targets[i]
                t = json.loads(t) if isinstance(t, str) else t
                ref = reference(eager, xs[i], t, rule="plain" if i == 8 else "guided")
                worst = max(worst, assert_close(json.loads(data)["explanations"], ref,
                                                f"request {i}"))
            text = s.request("GET", "/metrics")[2].decode()
            count = int(re.search(r'guidedbp_batch_size_count\{model="cls"\} (\d+)', text).group(1))
            ones = int(re.search(r'guidedbp_batch_size_bucket\{model="cls",le="1"\} (\d+)',
                                 text).group(1))
            assert count < 12 and ones < count, (count, ones, "no batching happened")
            print(f"     12 requests ran as {count} batches; max |batched - reference| = "
                  f"{worst:.2e}")
        check("12 concurrent requests, mixed targets/methods, one bad: batched, each "
              "equals the reference", concurrent_batch)

        def batched_equals_unbatched():
            x = torch.randn(4, 2, 5, 5)
            body = {"instances": x.tolist(), "parameters": {"target": "[0, 1, 2, 3]"}}
            alone = json.loads(s.request("POST", "/v1/models/cls:explain", body)[2])
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                outs = list(pool.map(lambda _: s.request("POST", "/v1/models/cls:explain", body),
                                     range(8)))
            for status, _, data in outs:
                assert status == 200
                assert_close(json.loads(data)["explanations"],
                             torch.tensor(alone["explanations"]), "batched vs alone")
        check("a request batched with others equals it alone", batched_equals_unbatched)

        def predict_batched():
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                outs = list(pool.map(lambda i: s.request(
                    "POST", "/v1/models/cls:predict", {"instances": xs[i].tolist()}), range(6)))
            for i, (status, _, data) in enumerate(outs):
                assert status == 200, data
                with torch.no_grad():
                    assert_close(json.loads(data)["predictions"], eager(xs[i]), f"predict {i}")
        check("concurrent :predict batched, split back per request", predict_batched)
        check("SIGTERM: exit 0", lambda: assert_equal(s.stop(), 0))


def raw(port, data, read=True, timeout=10, close_after=None):
    """Sends raw bytes; returns the response bytes (b"" if the server closed)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        if close_after is not None:
            time.sleep(close_after)
            return b""
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                m = re.search(rb"Content-Length: (\d+)", head, re.I)
                if m and len(body) >= int(m.group(1)):
                    break
        return out
    finally:
        sock.close()


def area_errors():
    """Every refused request: status, JSON {"error"}, and the server lives on."""
    m = models()
    x = torch.randn(2, 2, 5, 5).tolist()
    with Server({"cls": m["cls"][1], "grid": m["grid"][1]}, "--max-body-mb", 1) as s:
        cases = [
            ("malformed JSON", "/v1/models/cls:explain", b'{"instances": [1, 2', 400,
             "malformed JSON"),
            ("not an object", "/v1/models/cls:predict", [1, 2], 400, "JSON object"),
            ("no instances", "/v1/models/cls:predict", {"inputs": []}, 400, "no \"instances\""),
            ("empty instances", "/v1/models/cls:predict", {"instances": []}, 400, "non-empty"),
            ("ragged instance", "/v1/models/cls:predict", {"instances": [[[1, 2], [3]]]}, 400,
             "ragged"),
            ("string in instance", "/v1/models/cls:predict", {"instances": [["a"]]}, 400,
             "expected a number"),
            ("instances of two shapes", "/v1/models/cls:predict",
             {"instances": [[1, 2], [1, 2, 3]]}, 400, "all instances of a request"),
            ("wrong shape for the model", "/v1/models/cls:explain",
             {"instances": [[1.0, 2.0]], "parameters": {"target": 0}}, 400, ""),
            ("bad target literal", "/v1/models/cls:explain",
             {"instances": x, "parameters": {"target": "[1,,2]"}}, 400, "column 4"),
            ("target of a wrong type", "/v1/models/cls:explain",
             {"instances": x, "parameters": {"target": 1.5}}, 400, "integer or a string"),
            ("target out of range", "/v1/models/cls:explain",
             {"instances": x, "parameters": {"target": 7}}, 400, "out of range"),
            ("per-example target of the wrong length", "/v1/models/cls:explain",
             {"instances": x, "parameters": {"target": "[1, 2, 3]"}}, 400, ""),
            ("no target for a classifier", "/v1/models/cls:explain", {"instances": x}, 400,
             "no target given"),
            ("unknown method", "/v1/models/cls:explain",
             {"instances": x, "parameters": {"method": "lrp", "target": 0}}, 400,
             "unknown method 'lrp'"),
            ("abs without saliency", "/v1/models/cls:explain",
             {"instances": x, "parameters": {"abs": True, "target": 0}}, 400, "saliency only"),
            ("parameters not an object", "/v1/models/cls:explain",
             {"instances": x, "parameters": 3}, 400, "JSON object"),
            ("unknown model", "/v1/models/nope:predict", {"instances": x}, 404,
             "unknown model 'nope'"),
            ("unknown verb", "/v1/models/cls:train", {"instances": x}, 404, "no route"),
            ("broken image", "/v1/models/cls:explain", (b"\x89PNG\r\n\x1a\n123", "image/png"),
             400, "image"),
        ]
        for name, url, body, code, words in cases:
            def one(url=url, body=body, code=code, words=words):
                headers = None
                if isinstance(body, tuple):
                    body, ctype = body
                    headers = {"Content-Type": ctype}
                status, hdrs, data = s.request("POST", url, body, headers)
                assert status == code, (status, data)
                error = json.loads(data)["error"]
                assert words in error and "\n" not in error, error
            check(f"400/404: {name}", one)

        def unknown_paths():
            for method, url in [("GET", "/v1/models/nope"), ("GET", "/nope"),
                                ("POST", "/v2/models/cls/infer")]:
                status, _, data = s.request(method, url, b"{}" if method == "POST" else None)
                assert status == 404 and "error" in json.loads(data), (url, status, data)
        check("404: unknown paths, JSON error", unknown_paths)

        def huge():
            # Only the headers: the server must refuse from Content-Length alone.
            out = raw(s.port, b"POST /v1/models/cls:predict HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n")
            assert out.startswith(b"HTTP/1.1 413"), out[:100]
            assert b'"error"' in out and b"--max-body-mb" in out, out
            status, _, data = s.request("POST", "/v1/models/cls:predict",
                                        b"[" + b"0," * 600000 + b"0]",
                                        {"Content-Type": "application/json"})
            assert status == 413, (status, data[:100])
        check("413: body over --max-body-mb (2 GB announced; 1.2 MB sent)", huge)

        def truncated():
            t0 = time.monotonic()
            raw(s.port, b"POST /v1/models/cls:predict HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 1000\r\n\r\n{\"instances\": [", close_after=0.2)
            out = raw(s.port, b"POST /v1/models/cls:predict HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 20\r\n\r\n{\"instances\": [1, 2", timeout=10)
            assert out.startswith(b"HTTP/1.1 400"), out[:200]
            assert s.json("GET", "/v2/health/live") == {"live": True}
            assert time.monotonic() - t0 < 15
        check("truncated bodies: the short one is malformed JSON, the cut one is dropped",
              truncated)
        check("the server is alive after the error cases",
              lambda: assert_equal(s.json("GET", "/v2/health/ready"), {"ready": True}))
        check("SIGTERM: exit 0", lambda: assert_equal(s.stop(), 0))

    with Server({"cls": m["cls"][1]}, "--max-queue", 2, "--max-batch-size", 64,
                "--max-batch-delay-ms", 600, "--quiet") as s:
        def queue_full():
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                outs = list(pool.map(lambda _: s.request(
                    "POST", "/v1/models/cls:predict", {"instances": x}), range(6)))
            codes = sorted(o[0] for o in outs)
            assert codes.count(200) >= 2 and codes.count(503) >= 1, codes
            for status, _, data in outs:
                if status == 503:
                    assert "queue" in json.loads(data)["error"], data
        check("503: queue full (--max-queue 2, 6 concurrent requests)", queue_full)
        s.stop()

    with Server({"cls": m["cls"][1]}, "--request-timeout-ms", 100, "--max-batch-size", 64,
                "--max-batch-delay-ms", 1000, "--quiet") as s:
        def timeout():
            status, _, data = s.request("POST", "/v1/models/cls:predict", {"instances": x})
            assert status == 503 and "--request-timeout-ms" in json.loads(data)["error"], data
        check("503: no result within --request-timeout-ms", timeout)
        s.stop()

    # Bad command lines (docs/bad-inputs.md, rows S1-S7).
    def bad(argv, code, words):
        expect_error(["serve"] + argv, code, words)
    p = m["cls"][1]
    for name, argv, code, words in [
        ("S1 --model without NAME=", ["--model", p], 2, "expected NAME=PATH"),
        ("S2 bad model name", ["--model", f"a/b={p}"], 2, "must be 1 to 128 letters"),
        ("S3 name given twice", ["--model", f"a={p}", "--model", f"a={p}"], 2, "given twice"),
        ("S4 missing model file", ["--model", "a=/nonexistent.pt"], 1, "no such file"),
        ("S5 bad --device", ["--model", f"a={p}", "--device", "tpu"], 2,
         "'tpu' is not a device; use cpu, cuda or cuda:N"),
        ("S6 --abs without saliency", ["--model", f"a={p}", "--abs"], 2, "saliency only"),
        ("S7 no --model", [], 2, "--model"),
        ("S9 --labels without =", ["--model", f"a={p}", "--labels", "x.txt"], 2,
         "expected NAME=FILE"),
        ("S10 --labels of no model", ["--model", f"a={p}", "--labels", f"b={p}"], 2,
         "no --model is named 'b'"),
        ("S11 --labels file missing", ["--model", f"a={p}", "--labels", "a=/nonexistent.txt"],
         1, "no such file"),
        ("S12 --mean that fits no image of the model",
         ["--model", f"a={fashion()[0]}", "--mean", "0.5,0.5", "--std", "1,1"], 2,
         "--model a: --mean has 2 values but every image goes to the model with 1 channel"),
        ("S13 --std 0", ["--model", f"a={p}", "--mean", "0.5", "--std", "0"], 2, "--std 0"),
    ]:
        check(f"command line: {name}", lambda a=argv, c=code, w=words: bad(a, c, w))

    def port_in_use():
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            bad(["--model", f"a={p}", "--port", str(taken.getsockname()[1])], 1,
                "cannot listen on")
    check("command line: S8 port in use", port_in_use)


def multipart(field, filename, data, ctype):
    """A multipart/form-data body as `curl -F field=@filename` sends it."""
    boundary = "----guidedbp-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def area_hostile():
    """What a hostile client sends (issue 16): deep nesting up to the body
    limit, numbers at the float32 limits, every Content-Type, every HTTP
    verb, truncated and mixed encodings, oversized announcements. Each
    answer is the documented status with a short one-line JSON error, and
    the server's health is checked after every request."""
    m = models()
    fashion_model, images = fashion()
    png = open(images[0], "rb").read()
    from PIL import Image
    import io
    buf = io.BytesIO()
    Image.open(images[0]).convert("L").save(buf, "JPEG", quality=95)
    jpeg = buf.getvalue()
    x = torch.randn(1, 2, 5, 5)
    max_mb = 1
    with Server({"cls": m["cls"][1], "fashion": fashion_model}, "--max-body-mb", max_mb,
                "--quiet") as s:
        def answer(method, url, body=None, ctype=None, expect=200, words=(), headers=None):
            hdrs = dict(headers or {})
            if ctype is not None:
                hdrs["Content-Type"] = ctype
            status, got, data = s.request(method, url, body, hdrs, timeout=30)
            assert status == expect, (method, url, ctype, status, data[:300])
            if status >= 400 and method != "HEAD":
                assert got.get("Content-Type", "").startswith("application/json"), got
                error = json.loads(data)["error"]
                assert "\n" not in error and len(error) < 400, (len(error), error[:500])
                for w in words:
                    assert w in error, (w, error)
            # The server lives on after every request.
            live, _, _ = s.request("GET", "/v2/health/live", timeout=10)
            assert live == 200, "the server died"
            return status, got, data

        def number_body(token):
            """One 2 x 5 x 5 instance (the cls model's input), every value `token`."""
            row = "[" + ",".join([token] * 5) + "]"
            plane = "[" + ",".join([row] * 5) + "]"
            return ('{"instances": [[' + plane + "," + plane + "]]}").encode()

        # 1. The crash: 20,000 levels (40 KB), on both verbs; then every depth
        # up to the body limit.
        def deep(depth, verb):
            body = b'{"instances": ' + b"[" * depth + b"1" + b"]" * depth + b"}"
            # Depth 9: an instance of rank 8, which the model refuses (400).
            words = [] if depth == 9 else (
                ["more than 8 dimensions"] if depth <= 15 else ["nests deeper than 16 levels"])
            answer("POST", f"/v1/models/cls:{verb}", body, "application/json", 400, words)
        for verb in ("predict", "explain"):
            check(f"finding 1: 20,000 nested lists (40 KB) on :{verb}: 400, alive",
                  lambda v=verb: deep(20000, v))
        limit_depth = (max_mb * 1024 * 1024 - 20) // 2
        for depth in (9, 10, 17, 100, 1000, 10000, 100000, limit_depth):
            check(f"nesting depth {depth} ({2 * depth + 16} bytes): 400, one short line",
                  lambda d=depth: deep(d, "predict"))
        check("nesting past the body limit: 413",
              lambda: answer("POST", "/v1/models/cls:predict",
                             b'{"instances": ' + b"[" * (limit_depth + 100) + b"1" +
                             b"]" * (limit_depth + 100) + b"}", "application/json", 413,
                             ["--max-body-mb"]))
        check("a body nesting objects, not lists: 400",
              lambda: answer("POST", "/v1/models/cls:predict",
                             b'{"instances": [1], "parameters": ' + b'{"a":' * 5000 + b"1" +
                             b"}" * 5000 + b"}", "application/json", 400, ["nests deeper"]))

        # 2. Numbers at the float32 limits.
        for text, code, words in [
            ("3.4028234e38", 200, ()), ("-3.4028234e38", 200, ()), ("1e-46", 200, ()),
            ("-0.0", 200, ()), ("100000000000000000000", 200, ()),
            ("3.5e38", 400, ["not finite in float32"]), ("-1e39", 400, ["not finite in float32"]),
            ("1e39", 400, ["not finite in float32"]), ("1e999", 400, ["out of range"]),
            ("-1e999", 400, ["out of range"]), ("NaN", 400, ["malformed JSON"]),
            ("Infinity", 400, ["malformed JSON"]), ("1e", 400, ["malformed JSON"]),
        ]:
            check(f"number {text}: {code}",
                  lambda t=text, c=code, w=words: answer(
                      "POST", "/v1/models/cls:predict", number_body(t), "application/json", c,
                      w))

        # 3. Every Content-Type.
        good_json = json.dumps({"instances": x.tolist()}).encode()
        for ctype, body, code, words in [
            (None, good_json, 200, ()), ("application/json", good_json, 200, ()),
            ("APPLICATION/JSON", good_json, 200, ()),
            ("application/json; charset=utf-8", good_json, 200, ()),
            ("application/vnd.kserve+json", good_json, 200, ()),
            ("text/plain", good_json, 200, ()),
            ("application/x-www-form-urlencoded", good_json, 200, ()),
            ("application/octet-stream", good_json, 415, ["not supported"]),
            ("text/html", good_json, 415, ["not supported"]),
            ("image/gif", b"GIF89a", 415, ["not supported"]),
            ("application/json", png, 400, ["malformed JSON"]),
        ]:
            check(f"Content-Type {ctype}: {code}",
                  lambda t=ctype, b=body, c=code, w=words: answer(
                      "POST", "/v1/models/cls:predict", b, t, c, w))
        for ctype, body in [("image/png", png), ("IMAGE/PNG", png), ("Image/Png; q=1", png),
                            ("image/jpeg", jpeg), ("image/jpg", jpeg), ("IMAGE/JPG", jpeg)]:
            def image(t=ctype, b=body):
                _, hdrs, data = answer("POST", "/v1/models/fashion:explain", b, t, 200)
                assert hdrs["Content-Type"] == "image/png" and data[:4] == b"\x89PNG", hdrs
            check(f"Content-Type {ctype}: an image, explained", image)
        check("Content-Type image/png with a JSON body: 400 (not an image)",
              lambda: answer("POST", "/v1/models/fashion:explain", good_json, "image/png", 400,
                             ["image"]))
        body, ctype = multipart("file", "img.png", png, "image/png")
        check("multipart upload (curl -F file=@img.png): 415 naming --data-binary",
              lambda: answer("POST", "/v1/models/fashion:explain", body, ctype, 415,
                             ["multipart", "--data-binary"]))

        # 4. Every verb on every route.
        routes = {"/": "GET", "/metrics": "GET", "/v2/health/live": "GET",
                  "/v2/health/ready": "GET", "/v1/models": "GET", "/v1/models/cls": "GET",
                  "/v1/models/cls:predict": "POST", "/v1/models/fashion:explain": "POST"}
        for url, allowed in routes.items():
            for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
                ok = method == allowed or (method == "HEAD" and allowed == "GET")
                def verb(url=url, method=method, allowed=allowed, ok=ok):
                    body = good_json if method in ("POST", "PUT", "PATCH") else None
                    if url.endswith(":explain"):
                        body, ctype = (png, "image/png") if body else (None, None)
                    else:
                        ctype = "application/json" if body else None
                    status, hdrs, _ = answer(method, url, body, ctype, 200 if ok else 405,
                                             () if ok else [f"use {allowed}"])
                    if not ok:
                        assert hdrs.get("Allow") == allowed, hdrs
                check(f"{method} {url}: {'200' if ok else '405, Allow: ' + allowed}", verb)
        check("GET on :predict is 405, not an unknown model 'fashion:predict'",
              lambda: answer("GET", "/v1/models/fashion:predict", None, None, 405, ["use POST"]))
        for method, url in [("GET", "/nope"), ("DELETE", "/v1/nope"), ("POST", "/v1/models/cls:train"),
                            ("PUT", "/v2/models/cls/infer")]:
            check(f"{method} {url}: 404",
                  lambda m_=method, u=url: answer(m_, u, b"{}" if m_ != "GET" else None,
                                                  "application/json", 404, ["no route"]))

        # 5. Announced lengths, truncation and mixed encodings.
        def announced():
            t0 = time.monotonic()
            out = raw(s.port, b"POST /v1/models/cls:predict HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n{}")
            took = time.monotonic() - t0
            assert out.startswith(b"HTTP/1.1 413"), out[:200]
            assert b"--max-body-mb" in out, out
            assert took < 2, f"413 after {took:.1f} s: the body was read first"
            assert s.request("GET", "/v2/health/live")[0] == 200
        check("Content-Length 2,000,000,000 with a 2-byte body: 413 at once (< 2 s)", announced)
        for name, body, ctype, words in [
            ("truncated JSON", good_json[:len(good_json) // 2], "application/json",
             ["malformed JSON"]),
            ("invalid UTF-8 in a string", b'{"instances": [1], "parameters": {"method": "\xff\xfe"}}',
             "application/json", ["malformed JSON"]),
            ("UTF-16 body", '{"instances": [1]}'.encode("utf-16"), "application/json",
             ["malformed JSON"]),
            ("NUL in the body", b'{"instances": [1\x00]}', "application/json", ["malformed JSON"]),
            ("truncated PNG", png[:len(png) // 2], "image/png", ["PNG"]),
            ("30 KB target literal", json.dumps({"instances": x.tolist(), "parameters": {
                "target": "[" + "(" * 15000}}).encode(), "application/json", ["--target"]),
        ]:
            check(f"{name}: 400, one short line",
                  lambda b=body, c=ctype, w=words: answer(
                      "POST", "/v1/models/" + ("fashion:explain" if c.startswith("image") else
                                               "cls:explain"), b, c, 400, w))

        check("PNG bytes sent as image/jpeg: decoded by their signature",
              lambda: answer("POST", "/v1/models/fashion:explain", png, "image/jpeg", 200))

        # 6. Query parameters: checked before the model, no internal names.
        for query, words in [("outlier_perc=150", ["outlier_perc", "0 to 100"]),
                             ("outlier_perc=nan", ["outlier_perc"]),
                             ("outlier_perc=1e999", ["outlier_perc"]),
                             ("sign=bogus", ["unknown sign"]), ("visual=bogus", ["unknown visual"]),
                             ("abs=maybe", ["true or false"]), ("scale=0", ["scale"]),
                             ("scale=2.5", ["integer"]), ("method=lrp", ["unknown method"]),
                             ("target=%5B1%2C%2C2%5D", ["column"])]:
            def query_case(q=query, w=words):
                _, _, data = answer("POST", "/v1/models/fashion:explain?" + q, png, "image/png",
                                    400, w)
                assert b"normalize_attr" not in data and b"::" not in data, data
            check(f"?{query}: 400, no internal names", query_case)
        check("the server is ready after the hostile requests",
              lambda: assert_equal(s.json("GET", "/v2/health/ready"), {"ready": True}))
        check("SIGTERM: exit 0 (no crash)", lambda: assert_equal(s.stop(), 0))


def area_faults():
    """Slow clients, clients that vanish, SIGTERM under load."""
    m = models()
    eager = m["cls"][0]
    x = torch.randn(2, 2, 5, 5)
    body = json.dumps({"instances": x.tolist(), "parameters": {"target": 1}}).encode()
    expected = reference(eager, x, 1)
    head = (b"POST /v1/models/cls:explain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
    with Server({"cls": m["cls"][1]}, "--http-threads", 8) as s:
        def slow_client():
            # 4 slow clients dribble their bodies over ~2 s while fast ones are served.
            def slow():
                sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
                sock.sendall(head)
                step = len(body) // 10 + 1
                for i in range(0, len(body), step):
                    sock.sendall(body[i:i + step])
                    time.sleep(0.3)
                out = b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    out += chunk
                sock.close()
                return out
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                slow_runs = [pool.submit(slow) for _ in range(4)]
                time.sleep(0.1)
                t0 = time.monotonic()
                for _ in range(10):
                    status, _, data = s.request("POST", "/v1/models/cls:explain", body,
                                                {"Content-Type": "application/json"})
                    assert status == 200
                fast = time.monotonic() - t0
                slow_done = sum(f.done() for f in slow_runs)
                for f in slow_runs:
                    out = f.result(timeout=30)
                    assert out.startswith(b"HTTP/1.1 200"), out[:100]
                    data = out.partition(b"\r\n\r\n")[2]
                    assert_close(json.loads(data)["explanations"], expected, "slow client")
            # The slow bodies take about 3 s; the fast requests must not wait for them.
            assert slow_done == 0, f"fast requests took {fast:.2f} s, behind slow clients"
            print(f"     10 requests took {fast:.2f} s while 4 slow clients sent for 3 s")
        check("slow clients get their answer and do not hold up others", slow_client)

        def stalled():
            # Headers, part of a body, then silence: the server closes after its 5 s
            # read timeout instead of waiting forever.
            t0 = time.monotonic()
            raw(s.port, head + body[:10], timeout=20)
            took = time.monotonic() - t0
            assert took < 15, took
            assert s.json("GET", "/v2/health/live") == {"live": True}
            print(f"     a stalled client was dropped after {took:.1f} s")
        check("a client that stalls mid-body is dropped (read timeout)", stalled)

        def disconnects():
            for n in range(20):
                cut = head + body[:len(body) * n // 20]
                raw(s.port, cut, close_after=0.0)
            for _ in range(5):  # full request, gone before the answer
                raw(s.port, head + body, close_after=0.0)
            time.sleep(0.5)
            status, _, data = s.request("POST", "/v1/models/cls:explain", body,
                                        {"Content-Type": "application/json"})
            assert status == 200
            assert_close(json.loads(data)["explanations"], expected, "after disconnects")
        check("25 clients disconnect mid-request or before the answer; server fine", disconnects)
        check("SIGTERM: exit 0", lambda: assert_equal(s.stop(), 0))

    with Server({"cls": m["cls"][1]}, "--max-batch-size", 8, "--max-batch-delay-ms", 2) as s:
        def sigterm_under_load():
            stop = threading.Event()
            got = []  # (status, correct)
            errors = []

            def client():
                while not stop.is_set():
                    try:
                        status, _, data = s.request("POST", "/v1/models/cls:explain", body,
                                                    {"Content-Type": "application/json"},
                                                    timeout=20)
                    except (ConnectionError, OSError) as e:
                        errors.append(type(e).__name__)  # not accepted: refused/reset
                        if s.proc.poll() is not None:
                            return
                        time.sleep(0.01)
                        continue
                    ok = status == 200 and torch.allclose(
                        torch.tensor(json.loads(data)["explanations"]), expected,
                        rtol=1e-4, atol=1e-5)
                    got.append((status, ok))
            threads = [threading.Thread(target=client) for _ in range(8)]
            for t in threads:
                t.start()
            time.sleep(1.5)
            s.proc.send_signal(signal.SIGTERM)
            code = s.proc.wait(timeout=30)
            stop.set()
            for t in threads:
                t.join(timeout=30)
            assert code == 0, code
            served = [line for line in s.text().splitlines() if line.startswith("{")]
            served_200 = sum(json.loads(line)["status"] == 200 for line in served)
            received_200 = sum(1 for status, _ in got if status == 200)
            bad = [g for g in got if g[0] not in (200, 503) or (g[0] == 200 and not g[1])]
            assert not bad, bad[:5]
            assert served_200 == received_200, (served_200, received_200)
            print(f"     {received_200} answered before exit, {len(errors)} refused after, "
                  f"0 lost; exit {code}")
        check("SIGTERM under load (8 clients): every accepted request answered, exit 0",
              sigterm_under_load)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def load(port, body, clients, seconds):
    """`clients` threads, each with one keep-alive connection, for `seconds`."""
    latencies, errors = [], []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                conn.request("POST", "/v1/models/fashion:explain", body,
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    bad += 1
            except (ConnectionError, OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.monotonic() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors.append(bad)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    wall = time.monotonic() - t0
    return {"clients": clients, "requests": len(latencies), "errors": sum(errors),
            "throughput": len(latencies) / wall,
            "p50_ms": 1000 * percentile(latencies, 50), "p99_ms": 1000 * percentile(latencies, 99)}


def area_load():
    """16 concurrent clients, with and without batching (bounded: 3 s each)."""
    fashion_model, _ = fashion()
    torch.manual_seed(3)
    x = torch.rand(1, 1, 28, 28)
    body = json.dumps({"instances": x.tolist(), "parameters": {"target": 3}}).encode()
    rows = []
    for label, options in [("no batching", ["--max-batch-size", 1]),
                           ("batching", ["--max-batch-size", 16, "--max-batch-delay-ms", 5])]:
        with Server({"fashion": fashion_model}, "--quiet", *options) as s:
            def run(label=label, s=s):
                r = load(s.port, body, clients=16, seconds=ARGS.load_seconds)
                r["config"] = label
                rows.append(r)
                print(f"     {label}: {r['requests']} requests, {r['errors']} errors, "
                      f"{r['throughput']:.0f}/s, p50 {r['p50_ms']:.1f} ms, "
                      f"p99 {r['p99_ms']:.1f} ms")
                assert r["errors"] == 0 and r["requests"] > 0, r
            check(f"load, 16 clients, {label}: no errors", run)
            check(f"load, {label}: SIGTERM exit 0", lambda s=s: assert_equal(s.stop(), 0))
    if ARGS.load_json:
        json.dump(rows, open(ARGS.load_json, "w"), indent=1)


def area_browser():
    """The web page in headless Chromium (DevTools protocol over a pipe): pick
    the model and an image; the page shows the prediction and a heat map equal
    to `guidedbp explain`'s."""
    from cdp import CHROMIUM, Browser
    if not os.path.exists(CHROMIUM):
        print(f"skip: no chromium at {CHROMIUM}")
        sys.exit(77)
    fashion_model, images = fashion()
    image = images[0]
    labels = open(shipped()[2]).read().splitlines()
    with Server({"fashion": fashion_model}, "--quiet", "--labels",
                f"fashion={shipped()[2]}") as s, Browser(path("chromium")) as b:
        def page():
            b.navigate(f"http://127.0.0.1:{s.port}/")
            b.wait_for("document.getElementById('model').options.length === 1", 20)
            # No broken-image icons before the first upload.
            for img in ("input", "map"):
                shown = b.eval(f"getComputedStyle(document.getElementById('{img}')).visibility")
                assert shown == "hidden", (img, shown)
            b.set_file("#file", image)
            b.wait_for("document.getElementById('status').textContent.startsWith('done') || "
                       "document.getElementById('status').textContent === 'failed'", 30)
            status = b.eval("document.getElementById('status').textContent")
            assert status.startswith("done"), (status, b.eval(
                "document.getElementById('error').textContent"))
            # The rendered map's pixels, read back through a canvas.
            pixels = b.eval("""(() => {
                const img = document.getElementById('map');
                const c = document.createElement('canvas');
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                return Array.from(g.getImageData(0, 0, c.width, c.height).data).join(',') +
                    ';' + c.width + ';' + c.height; })()""")
            data, w, h = pixels.split(";")
            rgba = np.array([int(v) for v in data.split(",")], dtype=np.uint8).reshape(
                int(h), int(w), 4)
            proc = run("explain", "--model", fashion_model, "--out-dir", path("browser_maps"),
                       image, expect=0, timeout=120)
            expected = read_png(proc.stdout.strip().split(" -> ")[-1])
            assert rgba.shape[:2] == expected.shape[:2], (rgba.shape, expected.shape)
            assert np.array_equal(rgba[:, :, :3], expected), "rendered map differs"
            predicted = re.search(r"predicted (\d+)", proc.stdout).group(1)
            name = labels[int(predicted)]
            # serve --labels: class names, not "class 9".
            assert f"predicted {predicted} {name}" in status, (status, proc.stdout)
            top = b.eval("document.getElementById('scores').rows[0].cells[0].textContent")
            assert top == f"{predicted} {name}", top
            print(f"     page: '{status}'; {w}x{h} map equals `guidedbp explain`'s")
        check("web page in headless Chromium: upload, prediction, heat map", page)


AREAS = {"protocol": area_protocol, "batching": area_batching, "errors": area_errors,
         "hostile": area_hostile, "faults": area_faults, "load": area_load,
         "browser": area_browser}


def load_arguments(parser):
    parser.add_argument("--load-seconds", type=float, default=3.0)
    parser.add_argument("--load-json", help="write the load results here")


if __name__ == "__main__":
    sys.exit(main(__doc__, AREAS, add_arguments=load_arguments, prefix="guidedbp_serve_test_"))
