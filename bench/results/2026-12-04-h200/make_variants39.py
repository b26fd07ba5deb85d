#!/usr/bin/env python3
"""Device run 39 (2026-12-04, ninth session): experiment 35, what fused_step's pixel conversion
costs. Each variant is a copy of main's src/kernels (a090087) with fused_step.wgsl's pixel4 calls
in the forward, the update or both replaced by a cheaper conversion, for `wgtrain bench
--kernels-dir`: cvt (the bytes as floats, times 1/255: no mean or std) or unorm
(unpack4x8unorm). Both train on unnormalised inputs: only their time counts.
Usage: make_variants39.py SRC_KERNELS OUT_DIR"""
import pathlib, shutil, sys

src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
FST = (src / "fused_step.wgsl").read_text()
UPD = "let x = pixel4(xu[b]);"
FWD = "let x = pixel4(images[next_sample[4u * bg + i] * WORDS + wd]);"
assert FST.count(UPD) == 1 and FST.count(FWD) == 1
CHEAP = {"cvt": "pixel_cvt", "unorm": "unpack4x8unorm"}
HELPER = """
fn pixel_cvt(w: u32) -> vec4f {
    return vec4f(f32(w & 0xffu), f32((w >> 8u) & 0xffu), f32((w >> 16u) & 0xffu), f32(w >> 24u)) * (1.0 / 255.0);
}
"""
variants = {"base": FST}
for name, fn in CHEAP.items():
    for part in ("fwd", "upd", "both"):
        t = FST
        if part in ("upd", "both"):
            t = t.replace(UPD, UPD.replace("pixel4", fn))
        if part in ("fwd", "both"):
            t = t.replace(FWD, FWD.replace("pixel4", fn))
        variants[f"{name}-{part}"] = t + HELPER
for name, text in variants.items():
    d = out / name
    if d.exists():
        shutil.rmtree(d)
    shutil.copytree(src, d)
    (d / "fused_step.wgsl").write_text(text)
print(" ".join(variants))
