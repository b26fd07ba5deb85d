#!/usr/bin/env python3
"""Writes bench/RESULTS.md from one device run's JSON lines (wgtrain bench and torch_reference.py)."""
import argparse
import json


def load(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def fmt(ms):
    return "—" if ms is None else (f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fused", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--torch", required=True)
    ap.add_argument("--card", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--commands", required=True, help="file with the exact commands run")
    ap.add_argument("--note", default="", help="a paragraph printed under the speed table")
    a = ap.parse_args()
    fused, ref, torch = load(a.fused), load(a.reference), load(a.torch)
    speed = lambda rows: {r["batch"]: r for r in rows if r.get("event") == "speed"}
    f, r = speed(fused), speed(ref)
    t = {}
    for row in torch:
        if row.get("event") == "speed":
            t.setdefault(row["batch"], {})[row["mode"]] = row
    batches = sorted(set(f) | set(t))
    tv = next((row.get("torch") for row in torch if row.get("torch")), "?")
    out = []
    out.append("# Benchmark: wgtrain against PyTorch on the same GPU\n")
    out.append(f"Card: **{a.card}**. Date: {a.date}. PyTorch {tv}. wgtrain through Dawn (npm bun-webgpu-linux-x64 "
               "0.1.7) on Vulkan. All figures from one session on one lent machine, made by `bench/run_device.sh` "
               "(the exact commands are at the end).\n")
    out.append("Workload: the 784-128-10 MLP, plain SGD (lr 0.1), full MNIST (60,000 images) resident on the GPU, "
               "reshuffled every epoch. ms/epoch is the median of 5 timed epochs after one warm-up epoch "
               "(compilation and graph capture happen in the warm-up).\n")
    out.append("| batch | wgtrain fused | wgtrain reference (6 kernels) | PyTorch eager | PyTorch CUDA graph | "
               "PyTorch compile + CUDA graph | best PyTorch ÷ wgtrain fused |")
    out.append("|---|---|---|---|---|---|---|")
    for b in batches:
        fm = f.get(b, {}).get("ms_per_epoch")
        rm = r.get(b, {}).get("ms_per_epoch")
        tb = t.get(b, {})
        te, tg, tc = (tb.get(m, {}).get("ms_per_epoch") for m in ("eager", "graph", "compiled"))
        best = min([x for x in (te, tg, tc) if x is not None], default=None)
        ratio = f"**{best / fm:.2f}×**" if best and fm else "—"
        out.append(f"| {b} | {fmt(fm)} | {fmt(rm)} | {fmt(te)} | {fmt(tg)} | {fmt(tc)} | {ratio} |")
    out.append("")
    if a.note:
        out.append(a.note + "\n")
    out.append("Samples per second, wgtrain fused: " + ", ".join(
        f"batch {b}: {f[b]['samples_per_second'] / 1e6:.2f}M" for b in batches if b in f) + ".\n")
    out.append("## GPU time per dispatch (timestamp queries, each dispatch in its own timed pass)\n")
    out.append("| batch | kernels | µs per dispatch | GPU ms per epoch (sum) | wall ms per epoch |")
    out.append("|---|---|---|---|---|")
    for rows, name in ((f, "fused"), (r, "reference")):
        for b in sorted(rows):
            k = rows[b].get("gpu_us_per_dispatch", {})
            steps = rows[b]["steps_per_epoch"]
            gpu_ms = sum(k.values()) * steps / 1000 if k else None
            per = ", ".join(f"{n.replace('.wgsl', '')} {v:.1f}" for n, v in k.items()) or "no timestamps"
            out.append(f"| {b} | {name} | {per} | {fmt(gpu_ms)} | {fmt(rows[b]['ms_per_epoch'])} |")
    out.append("")
    out.append("## Time to 98.0% test accuracy\n")
    out.append("From the first training dispatch to the end of the first evaluation at or above 98.0% (training plus "
               "one test-set evaluation per epoch). Median over 5 seeds.\n")
    out.append("| trainer | recipe | seeds reaching 98% | median seconds |")
    out.append("|---|---|---|---|")
    for row in fused:
        if row.get("event") == "time_to_accuracy":
            out.append(f"| wgtrain fused | batch {row['batch']}, momentum {row['momentum']}, lr {row['lr']} cosine over "
                       f"{row['schedule_epochs']} epochs | {row['reached']}/{row['seeds']} | "
                       f"{row['median_seconds']:.3f} |")
            setup = (f"wgtrain set-up, outside that time: device creation {row['device_seconds']:.3f} s, "
                     f"pipeline compilation {row['compile_seconds']:.3f} s, data upload {row['upload_seconds']:.3f} s.")
    for row in torch:
        if row.get("event") == "time_to_accuracy":
            med = row["median_seconds"]
            out.append(f"| PyTorch CUDA graph | {row['recipe']} | {row['reached']}/{row['seeds']} | "
                       f"{'—' if med is None else f'{med:.3f}'} |")
    out.append("")
    if "setup" in locals():
        out.append(setup + "\n")
    out.append("## Commands\n")
    out.append("```")
    with open(a.commands) as cf:
        out.append(cf.read().strip())
    out.append("```")
    print("\n".join(out))


if __name__ == "__main__":
    main()
