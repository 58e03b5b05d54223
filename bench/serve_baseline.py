#!/usr/bin/python3
"""A TorchServe-style Python baseline for bench/serve_load.py: the shipped
Fashion-MNIST model, EAGER, behind Python's http.server (one thread per
request), answering POST /v1/models/fashion:explain like `guidedbp serve`
(one request = one attribution, no batching, as TorchServe's and KServe's
Python explainers do).

It is a STAND-IN for "Captum in an HTTP handler": Captum is not installed
here, so the attribution is the project's independent Python reference
(tests/reference/torch_reference.py: Captum's rules as a TorchFunctionMode),
which costs about what Captum's hooks cost (docs/benchmarks.md).

Usage: serve_baseline.py --port 8081 [--threads 1]
"""
import argparse
import ast
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion_mnist"))
from torch_reference import attribute  # noqa: E402
from train import FashionCNN  # noqa: E402

RULES = {"guided-backprop": "guided", "deconvolution": "deconvolution", "saliency": "plain"}


def load_model():
    scripted = torch.jit.load(os.path.join(ROOT, "examples", "fashion_mnist", "model.pt"))
    model = FashionCNN(0.0, 1.0)
    model.load_state_dict(scripted.state_dict())
    return model.eval()


MODEL = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet, like `guidedbp serve --quiet`
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        try:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            x = torch.tensor(body["instances"], dtype=torch.float32)
            params = body.get("parameters", {})
            rule = RULES[params.get("method", "guided-backprop")]
            target = params.get("target")
            if isinstance(target, str):  # the CLI's literal syntax is Python's
                target = ast.literal_eval(target)
            result, _ = attribute(MODEL, x, target, (), rule)
            self.reply(200, {"explanations": result.tolist()})
        except Exception as e:  # noqa: BLE001 - one error line per bad request
            self.reply(400, {"error": str(e).splitlines()[0] if str(e) else type(e).__name__})


def main():
    global MODEL
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    MODEL = load_model()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"baseline on http://127.0.0.1:{args.port}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
