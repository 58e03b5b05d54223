#!/usr/bin/python3
"""Load test of `guidedbp serve` with wrk (Debian's package): 16 concurrent
connections POSTing one Fashion-MNIST :explain request each (JSON, 1 x 28 x
28, target 3), without batching, with dynamic batching, and against the
Python baseline (bench/serve_baseline.py). Prints a Markdown table (clients,
requests, errors, throughput, p50/p99) and writes it with the raw wrk output.

Usage: bench/serve_load.py --cli build/tools/guidedbp/guidedbp
           [--seconds 20] [--clients 16] [--out bench/results/serve-load.md]
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODEL = os.path.join(ROOT, "examples", "fashion_mnist", "model.pt")


def wait_ready(url, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError as e:
            if getattr(e, "code", None):  # an HTTP error: it answers
                return
            time.sleep(0.2)
    raise SystemExit(f"{url} not ready in {seconds} s")


def parse_wrk(text):
    def ms(value, unit):
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]
    lat = dict((p, ms(v, u)) for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s|m)\b",
                                                           text))
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                     text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + \
        (sum(int(g) for g in sock.groups()) if sock else 0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    return {"requests": requests, "errors": errors, "throughput": rps,
            "p50_ms": lat.get("50"), "p99_ms": lat.get("99")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="--threads of the servers")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "serve-load.md"))
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()

    torch.manual_seed(3)
    body = json.dumps({"instances": torch.rand(1, 1, 28, 28).tolist(),
                       "parameters": {"target": 3}})
    tmp = tempfile.mkdtemp(prefix="serve_load_")
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(body)}\n")
    threads = ["--threads", str(args.threads)] if args.threads else []
    configs = [
        ("guidedbp serve, no batching", [args.cli, "serve", "--quiet", "--port", "18180",
                                         "--model", f"fashion={MODEL}", "--max-batch-size", "1"]
         + threads, 18180),
        ("guidedbp serve, batching (16, 5 ms)",
         [args.cli, "serve", "--quiet", "--port", "18181", "--model", f"fashion={MODEL}",
          "--max-batch-size", "16", "--max-batch-delay-ms", "5"] + threads, 18181),
    ]
    if not args.no_baseline:
        configs.append(("Python http.server + reference (stand-in for Captum)",
                        ["/usr/bin/python3", os.path.join(ROOT, "bench", "serve_baseline.py"),
                         "--port", "18182"] + threads, 18182))
    rows, raw = [], []
    for label, argv, port in configs:
        proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/v1/models/fashion:explain"
            wait_ready(url, proc)
            # Warm-up, then the measured run.
            subprocess.run(["wrk", "-t2", f"-c{args.clients}", "-d2s", "-s", lua, url],
                           capture_output=True, timeout=60)
            out = subprocess.run(["wrk", "-t4", f"-c{args.clients}", f"-d{args.seconds}s",
                                  "--latency", "--timeout", "10s", "-s", lua, url],
                                 capture_output=True, text=True,
                                 timeout=args.seconds + 60).stdout
            raw.append(f"## {label}\n```\n{out}```\n")
            r = parse_wrk(out)
            r["config"] = label
            rows.append(r)
            print(f"{label}: {r}", file=sys.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    table = ["| server | clients | requests | errors | throughput (req/s) | p50 (ms) | p99 (ms) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        table.append(f"| {r['config']} | {args.clients} | {r['requests']} | {r['errors']} | "
                     f"{r['throughput']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |")
    text = "\n".join(table) + "\n"
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(f"# serve load test ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
                f"{args.seconds} s per row, wrk)\n\n{text}\n" + "\n".join(raw))


if __name__ == "__main__":
    main()
