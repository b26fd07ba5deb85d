#!/usr/bin/env python3
"""Writes bench/RESULTS.md from a device run's JSON lines (wgtrain bench and torch_reference.py).

Usage: make_results.py --card C --date D --commands F [--commands F ...] [--note TEXT] FILE.jsonl ...

Every FILE may hold lines of either program (a line with "framework": "torch" is PyTorch's, any
other wgtrain's), so the parts of a run split over several device calls can be passed together;
where the same figure appears twice, the later one is kept. --fused, --reference and --torch
FILE are the older spelling and add FILE the same way. Lines that are not JSON objects are
skipped. Renders:
  - a speed table per model (the "hidden" of each line; 128 where a line has none): every
    wgtrain kernel path and every PyTorch mode side by side, and best PyTorch / fastest wgtrain;
  - the GPU time per dispatch of each wgtrain speed line that has timestamps;
  - every time-to-accuracy recipe of either framework with its parameters, the epochs each seed
    took and the median time; a wgtrain line is named after the PyTorch recipe with the same
    parameters, and the rows of one recipe are listed together.
"""
import argparse
import json
import sys

TORCH_MODES = (("eager", "PyTorch eager"), ("graph", "PyTorch CUDA graph"), ("compiled", "PyTorch compile + CUDA graph"))
# torch_reference.py's time-to-accuracy lines named only the recipe before they carried its parameters
# (those lines' wgtrain-default is batch 128 at lr 0.05, train's defaults until 2026-12-02)
LEGACY_RECIPES = {
    "wgtrain-default": dict(hidden="128", optimizer="momentum", batch=128, lr=0.05, momentum=0.9, schedule="cosine",
                            warmup=0, schedule_epochs=12),
    "plain-sgd-b64": dict(hidden="128", optimizer="sgd", batch=64, lr=0.1, momentum=0.0, schedule="constant",
                          warmup=0, schedule_epochs=12),
}
KERNEL_NAMES = {"fused": "wgtrain fused", "reference": "wgtrain per-layer", "cpu": "wgtrain CPU engine"}


def keep_repeats(pairs):
    """A JSON object with every pair kept: a name given again gets " #2", " #3" (wgtrain bench
    before 2026-12-03 named a per-layer kernel's dispatches by file only, once per layer)."""
    out = {}
    for k, v in pairs:
        name, n = k, 1
        while name in out:
            n += 1
            name = f"{k} #{n}"
        out[name] = v
    return out


def load(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        row = json.loads(line, object_pairs_hook=keep_repeats)
                    except ValueError:
                        continue
                    if isinstance(row, dict):
                        out.append(row)
    except FileNotFoundError:
        sys.exit(f"make_results: {path} not found")
    return out


def fmt(ms):
    return "—" if ms is None else (f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms")


def is_torch(row):
    return row.get("framework") == "torch"


def hidden_of(row):
    h = row.get("hidden", "128")
    return ",".join(str(w) for w in h) if isinstance(h, list) else str(h)


def model_name(hidden):
    return "784-" + hidden.replace(",", "-") + "-10"


def recipe_key(row):
    """The parameters that make two time-to-accuracy runs the same recipe."""
    momentum = float(row.get("momentum", 0.9))
    return (hidden_of(row), row.get("optimizer", "momentum" if momentum else "sgd"), int(row["batch"]),
            round(float(row["lr"]), 6), round(momentum, 6), row.get("schedule", "cosine"), int(row.get("warmup", 0)),
            int(row["schedule_epochs"]), round(float(row.get("label_smoothing", 0)), 6))


def describe(key):
    hidden, optimizer, batch, lr, momentum, schedule, warmup, epochs, smoothing = key
    opt = "plain SGD" if optimizer == "sgd" else f"{optimizer} {momentum:g}"
    if smoothing:
        opt += f", label smoothing {smoothing:g}"
    sched = f"cosine over {epochs} epochs" if schedule == "cosine" else f"{schedule}, at most {epochs} epochs"
    if warmup:
        sched += f", warmup {warmup} steps"
    return model_name(hidden), opt, batch, f"{lr:g}", sched


def collect(rows):
    """Speed lines keyed by (framework, model, path, batch); time-to-accuracy lines, each with its
    seeds' lines (those printed before it, in its file)."""
    speed, tta = {}, []
    for file_rows in rows:
        seeds = {}
        for row in file_rows:
            ev = row.get("event")
            if ev == "speed" and "batch" in row and "ms_per_epoch" in row:
                path = row.get("mode") if is_torch(row) else row.get("kernels", "fused")
                speed[("torch" if is_torch(row) else "wgtrain", hidden_of(row), path, int(row["batch"]))] = row
            elif ev == "time_to_accuracy_seed":
                seeds.setdefault(is_torch(row), []).append(row)
            elif ev == "time_to_accuracy":
                if is_torch(row) and "batch" not in row and row.get("recipe") in LEGACY_RECIPES:
                    row = {**LEGACY_RECIPES[row["recipe"]], **row}
                if "batch" not in row or "lr" not in row or "schedule_epochs" not in row:
                    continue
                tta.append((row, seeds.pop(is_torch(row), [])))
    return speed, tta


def speed_tables(speed, out):
    models = []
    for (_, hidden, _, _) in speed:
        if hidden not in models:
            models.append(hidden)
    first = {h: i for i, h in enumerate(models)}
    models.sort(key=lambda h: (h != "128", first[h]))
    for hidden in models:
        kernels = []
        for (fw, h, path, _) in speed:
            if fw == "wgtrain" and h == hidden and path not in kernels:
                kernels.append(path)
        kernels.sort(key=lambda k: (k != "fused", k != "reference", k))
        modes = [(m, name) for m, name in TORCH_MODES if any(
            fw == "torch" and h == hidden and p == m for (fw, h, p, _) in speed)]
        batches = sorted({b for (_, h, _, b) in speed if h == hidden})
        out.append(f"### {model_name(hidden)}\n")
        cols = [KERNEL_NAMES.get(k, f"wgtrain {k}") for k in kernels] + [name for _, name in modes]
        out.append("| batch | " + " | ".join(cols) + " | best PyTorch ÷ fastest wgtrain |")
        out.append("|---|" + "---|" * (len(cols) + 1))
        for b in batches:
            w = [speed.get(("wgtrain", hidden, k, b), {}).get("ms_per_epoch") for k in kernels]
            t = [speed.get(("torch", hidden, m, b), {}).get("ms_per_epoch") for m, _ in modes]
            best_w = min([x for x in w if x is not None], default=None)
            best_t = min([x for x in t if x is not None], default=None)
            ratio = f"**{best_t / best_w:.2f}×**" if best_t and best_w else "—"
            out.append(f"| {b} | " + " | ".join(fmt(x) for x in w + t) + f" | {ratio} |")
        out.append("")


def dispatch_table(speed, out):
    rows = sorted(((h, k, b, r) for (fw, h, k, b), r in speed.items()
                   if fw == "wgtrain" and "gpu_us_per_dispatch" in r and k != "cpu"),
                  key=lambda x: (x[0] != "128", x[0], x[1] != "fused", x[1], x[2]))
    if not rows:
        return
    out.append("## GPU time per dispatch (timestamp queries, each dispatch in its own timed pass)\n")
    out.append("| model | batch | kernels | µs per dispatch | GPU ms per epoch (sum) | wall ms per epoch |")
    out.append("|---|---|---|---|---|---|")
    for hidden, kernels, b, row in rows:
        k = row.get("gpu_us_per_dispatch") or {}
        steps = row.get("steps_per_epoch") or (60000 + b - 1) // b
        gpu_ms = sum(k.values()) * steps / 1000 if k else None
        per = ", ".join(f"{n.replace('.wgsl', '')} {v:.1f}" for n, v in k.items()) or "no timestamps"
        out.append(f"| {model_name(hidden)} | {b} | {kernels} | {per} | {fmt(gpu_ms)} | {fmt(row['ms_per_epoch'])} |")
    out.append("")


def tta_table(tta, target, out):
    names = {}
    for row, _ in tta:
        if is_torch(row) and row.get("recipe"):
            names.setdefault(recipe_key(row), row["recipe"])
    order = []
    for row, _ in tta:
        if recipe_key(row) not in order:
            order.append(recipe_key(row))
    out.append(f"## Time to {100 * target:.1f}% test accuracy\n")
    out.append(f"From the first training step to the end of the first test evaluation at or above {100 * target:.1f}% "
               "(training plus one test-set evaluation per epoch; graph capture and compilation happen before the "
               "clock starts). Median over the seeds that reach it.\n")
    out.append("| recipe | trainer | model | optimizer | batch | lr | schedule | seeds reaching | epochs per seed | "
               "median seconds |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for key in order:
        for row, seeds in sorted((x for x in tta if recipe_key(x[0]) == key), key=lambda x: is_torch(x[0])):
            if is_torch(row):
                mode = dict(TORCH_MODES).get(row.get("mode", "graph"), row.get("mode"))
                trainer = mode
            else:
                trainer = KERNEL_NAMES.get(row.get("kernels"), "wgtrain") if row.get("kernels") else "wgtrain"
            epochs = ", ".join(str(s["epochs"]) if s.get("reached") else f"✗ ({s['epochs']})" for s in seeds) or "—"
            med = row.get("median_seconds")
            med = "—" if med is None or med < 0 else f"{med:.3f}"
            model, opt, batch, lr, sched = describe(key)
            out.append(f"| {names.get(key, '—')} | {trainer} | {model} | {opt} | {batch} | {lr} | {sched} | "
                       f"{row.get('reached', '?')}/{row.get('seeds', '?')} | {epochs} | {med} |")
    out.append("")
    setup = [row for row, _ in tta if not is_torch(row) and "device_seconds" in row]
    if setup:
        row = setup[-1]
        out.append(f"wgtrain set-up, outside that time: device creation {row['device_seconds']:.3f} s, "
                   f"pipeline compilation {row.get('compile_seconds', 0):.3f} s, data upload "
                   f"{row.get('upload_seconds', 0):.3f} s.\n")


def main():
    ap = argparse.ArgumentParser(description="Writes bench/RESULTS.md from a device run's JSON lines.")
    ap.add_argument("files", nargs="*", help="JSON-lines files of wgtrain bench and torch_reference.py")
    for old in ("--fused", "--reference", "--torch"):
        ap.add_argument(old, action="append", default=[], help="a JSON-lines file (the older spelling)")
    ap.add_argument("--card", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--commands", action="append", required=True, help="file with the exact commands run (repeatable)")
    ap.add_argument("--note", default="", help="a paragraph printed under the speed tables")
    a = ap.parse_args()
    paths = a.fused + a.reference + a.torch + a.files
    if not paths:
        ap.error("no JSON-lines files given")
    rows = [load(p) for p in paths]
    speed, tta = collect(rows)
    flat = [r for rs in rows for r in rs]
    tv = next((row.get("torch") for row in flat if is_torch(row) and row.get("torch")), "?")
    target = next((row["target"] for row, _ in tta if "target" in row), 0.98)
    out = ["# Benchmark: wgtrain against PyTorch on the same GPU\n"]
    out.append(f"Card: **{a.card}**. Date: {a.date}. PyTorch {tv}. wgtrain through Dawn (npm bun-webgpu-linux-x64 "
               "0.1.7) on Vulkan. All figures from one session on one lent machine, made by `bench/run_device.sh` "
               "(the exact commands are at the end).\n")
    out.append("## Speed\n")
    out.append("Workload: MLPs with ReLU between the layers, plain SGD (lr 0.1, constant), full MNIST (60,000 images) "
               "resident on the GPU, reshuffled every epoch. ms/epoch is the median of 5 timed epochs after one warm-up "
               "epoch (compilation and graph capture happen in the warm-up). A ratio above 1 means wgtrain is faster.\n")
    speed_tables(speed, out)
    if a.note:
        out.append(a.note + "\n")
    fused = {b: r for (fw, h, k, b), r in speed.items() if fw == "wgtrain" and h == "128" and k == "fused"}
    if fused:
        out.append("Samples per second, wgtrain fused (784-128-10): " + ", ".join(
            f"batch {b}: {fused[b]['samples_per_second'] / 1e6:.2f}M" for b in sorted(fused)
            if "samples_per_second" in fused[b]) + ".\n")
    dispatch_table(speed, out)
    if tta:
        tta_table(tta, target, out)
    out.append("## Commands\n")
    out.append("```")
    for path in a.commands:
        try:
            with open(path) as cf:
                out.append(cf.read().strip())
        except FileNotFoundError:
            sys.exit(f"make_results: {path} not found")
    out.append("```")
    print("\n".join(out))


if __name__ == "__main__":
    main()
