#!/usr/bin/env python3
"""Formats guidedbp_bench (and optionally captum_bench) JSON into Markdown tables
of medians and ratios, and writes the same rows as JSON.

    /usr/bin/python3 bench/report.py --guidedbp a.json [b.json ...] \
        [--captum c.json ...] [--markdown table.md] [--json summary.json]

Several result files are merged (later files win for the same record).
The reference for every ratio is `plain_grad`: a plain LibTorch input gradient
through the module as a user runs it (default TorchScript executor settings).
"""
import argparse
import json
import sys


def load(paths):
    recs, metas = {}, []
    for p in paths or []:
        with open(p) as f:
            d = json.load(f)
        metas.append(d.get("meta", {}))
        for r in d["records"]:
            recs[(r["model"], r["batch"], r["threads"], r["what"])] = r
    return recs, metas


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fmt(x, digits=2):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--guidedbp", nargs="+", required=True)
    p.add_argument("--captum", nargs="*", default=[])
    p.add_argument("--markdown")
    p.add_argument("--json")
    a = p.parse_args()

    g, gmeta = load(a.guidedbp)
    c, cmeta = load(a.captum)
    k = next((m.get("k") for m in gmeta if m.get("k")), 10)
    configs = sorted({key[:3] for key in g},
                     key=lambda t: (["tiny_cnn", "fashion_mnist", "resnet18", "vgg11"].index(t[0])
                                    if t[0] in ("tiny_cnn", "fashion_mnist", "resnet18", "vgg11")
                                    else 9, t[0], t[1], t[2]))

    def med(src, cfg, what, field="median_ms"):
        r = src.get(cfg + (what,))
        return None if r is None or r.get(field) is None or r.get(field, -1) < 0 else r[field]

    rows = []
    for cfg in configs:
        model, batch, threads = cfg
        row = {"model": model, "batch": batch, "threads": threads}
        for what in ["forward", "plain_grad", "plain_grad_noopt", "saliency", "guided_backprop",
                     "deconvolution", f"gbp_k{k}_one_forward", f"gbp_k{k}_separate",
                     "guided_gradcam"]:
            row[what + "_ms"] = med(g, cfg, what)
            row[what + "_cpu_ms"] = med(g, cfg, what, "cpu_median_ms")
            row[what + "_peak_mb"] = med(g, cfg, what, "peak_mb")
        row["gbp_over_plain"] = ratio(row["guided_backprop_ms"], row["plain_grad_ms"])
        row["gbp_over_plain_cpu"] = ratio(row["guided_backprop_cpu_ms"], row["plain_grad_cpu_ms"])
        row["gbp_over_plain_noopt"] = ratio(row["guided_backprop_ms"], row["plain_grad_noopt_ms"])
        row["deconv_over_plain"] = ratio(row["deconvolution_ms"], row["plain_grad_ms"])
        row["deconv_over_plain_cpu"] = ratio(row["deconvolution_cpu_ms"], row["plain_grad_cpu_ms"])
        row["k_one_over_separate"] = ratio(row[f"gbp_k{k}_one_forward_ms"], row[f"gbp_k{k}_separate_ms"])
        row["k_one_over_separate_cpu"] = ratio(row[f"gbp_k{k}_one_forward_cpu_ms"],
                                               row[f"gbp_k{k}_separate_cpu_ms"])
        row["mem_gbp_over_plain"] = ratio(row["guided_backprop_peak_mb"], row["plain_grad_peak_mb"])
        row["ggc_over_gbp"] = ratio(row["guided_gradcam_ms"], row["guided_backprop_ms"])
        row["ggc_over_gbp_cpu"] = ratio(row["guided_gradcam_cpu_ms"],
                                        row["guided_backprop_cpu_ms"])
        row["ggc_extra_over_forward"] = (
            None if row["guided_gradcam_ms"] is None or row["forward_ms"] is None
            else (row["guided_gradcam_ms"] - row["guided_backprop_ms"]) / row["forward_ms"])
        row["captum_gbp_ms"] = med(c, cfg, "captum_guided_backprop")
        row["captum_gbp_cpu_ms"] = med(c, cfg, "captum_guided_backprop", "cpu_median_ms")
        row["captum_gbp_peak_mb"] = med(c, cfg, "captum_guided_backprop", "peak_mb")
        row["eager_plain_ms"] = med(c, cfg, "plain_grad")
        row["captum_over_gbp"] = ratio(row["captum_gbp_ms"], row["guided_backprop_ms"])
        row["captum_over_gbp_cpu"] = ratio(row["captum_gbp_cpu_ms"], row["guided_backprop_cpu_ms"])
        rows.append(row)

    out = []
    out.append("Times: median wall ms over interleaved rounds (process CPU ms in brackets). "
               "Reference: `plain` = LibTorch input gradient through the module as a user "
               "runs it (default executor); `plain, opt off` = same with the graph optimizer "
               "off (as guidedbp runs models).\n")
    head = ["model", "batch", "thr", "forward", "plain (ref)", "plain, opt off", "GBP", "Deconv",
            f"K={k} one fwd", f"K={k} separate"]
    if c:
        head += ["eager plain (Py)", "Captum GBP"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for r in rows:
        cells = [r["model"], str(r["batch"]), str(r["threads"])]
        for w in ["forward", "plain_grad", "plain_grad_noopt", "guided_backprop", "deconvolution",
                  f"gbp_k{k}_one_forward", f"gbp_k{k}_separate"]:
            cells.append(f"{fmt(r[w + '_ms'])} ({fmt(r[w + '_cpu_ms'])})"
                         if r[w + "_ms"] is not None else "-")
        if c:
            cells.append(fmt(r["eager_plain_ms"]))
            cells.append(f"{fmt(r['captum_gbp_ms'])} ({fmt(r['captum_gbp_cpu_ms'])})"
                         if r["captum_gbp_ms"] is not None else "-")
        out.append("| " + " | ".join(cells) + " |")

    out.append("\nRatios (wall; CPU in brackets). Memory: peak resident growth during one call, MiB.\n")
    head = ["model", "batch", "thr", "GBP / plain", "GBP / plain opt off", "Deconv / plain",
            f"K={k}: one fwd / separate", "peak MiB plain", "peak MiB GBP", "mem GBP / plain"]
    if c:
        head += ["Captum / GBP (speed-up)"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for r in rows:
        cells = [r["model"], str(r["batch"]), str(r["threads"]),
                 f"{fmt(r['gbp_over_plain'], 3)} ({fmt(r['gbp_over_plain_cpu'], 3)})",
                 fmt(r["gbp_over_plain_noopt"], 3),
                 f"{fmt(r['deconv_over_plain'], 3)} ({fmt(r['deconv_over_plain_cpu'], 3)})",
                 (f"{fmt(r['k_one_over_separate'], 3)} ({fmt(r['k_one_over_separate_cpu'], 3)})"
                  if r["k_one_over_separate"] is not None else "-"),
                 fmt(r["plain_grad_peak_mb"], 1), fmt(r["guided_backprop_peak_mb"], 1),
                 fmt(r["mem_gbp_over_plain"], 3)]
        if c:
            cells.append(f"{fmt(r['captum_over_gbp'], 2)} ({fmt(r['captum_over_gbp_cpu'], 2)})"
                         if r["captum_over_gbp"] is not None else "-")
        out.append("| " + " | ".join(cells) + " |")
    ggc = [r for r in rows if r["guided_gradcam_ms"] is not None]
    if ggc:
        out.append("\nGuidedGradCam (issue 10; layer4 of resnet18, features.18 of vgg11) next "
                   "to GuidedBackprop: wall ms (CPU ms), ratio, and the extra time in forward "
                   "passes.\n")
        head = ["model", "batch", "thr", "GBP", "GuidedGradCam", "GGC / GBP",
                "(GGC - GBP) / forward"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for r in ggc:
            out.append("| " + " | ".join([
                r["model"], str(r["batch"]), str(r["threads"]),
                f"{fmt(r['guided_backprop_ms'])} ({fmt(r['guided_backprop_cpu_ms'])})",
                f"{fmt(r['guided_gradcam_ms'])} ({fmt(r['guided_gradcam_cpu_ms'])})",
                f"{fmt(r['ggc_over_gbp'], 3)} ({fmt(r['ggc_over_gbp_cpu'], 3)})",
                fmt(r["ggc_extra_over_forward"], 3)]) + " |")
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"guidedbp_meta": gmeta, "captum_meta": cmeta, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
