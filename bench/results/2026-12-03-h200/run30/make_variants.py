#!/usr/bin/env python3
"""Device run 30 (2026-12-03, seventh session): experiment 25, an ablation of the large-batch
kernels' inner loops. Each variant is a copy of src/kernels with one change to
fused_forward_wide.wgsl or fused_update.wgsl, for `wgtrain bench --kernels-dir`. Ablations
(fma1, noload, nostage, nobar, noxstore) train wrong numbers by design: only their time counts.
Usage: make_variants.py SRC_KERNELS OUT_DIR"""
import pathlib, shutil, sys

src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

def edit(text, old, new):
    assert text.count(old) == 1, old
    return text.replace(old, new)

FFW = (src / "fused_forward_wide.wgsl").read_text()
FU = (src / "fused_update.wgsl").read_text()
FST = (src / "fused_step.wgsl").read_text()

ACC_OLD = """        (*acc)[0] += xv.x * wv;
        (*acc)[1] += xv.y * wv;
        (*acc)[2] += xv.z * wv;
        (*acc)[3] += xv.w * wv;"""

NAMED_LOOP_OLD = """        accumulate(tx, ty, &acc);
        workgroupBarrier();
    }
    let acc0 = acc[0];
    let acc1 = acc[1];
    let acc2 = acc[2];
    let acc3 = acc[3];"""

def named(use_fma):
    op = (lambda a, s: f"        {a} = fma(vec4f(xv.{s}), wv, {a});") if use_fma else (lambda a, s: f"        {a} += xv.{s} * wv;")
    body = "\n".join(op(f"acc{i}", "xyzw"[i]) for i in range(4))
    t = edit(FFW, NAMED_LOOP_OLD, """        for (var k = 0u; k < KC; k++) {
            let xv = smem[k * R4 + ty];
            let wv = smem[KC * R4 + k * R4 + tx];
%s
        }
        workgroupBarrier();
    }""" % "\n".join("    " + l for l in body.split("\n")))
    t = edit(t, """    var acc: array<vec4f, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4f(0.0);
    }""", """    var acc0 = vec4f(0.0);
    var acc1 = vec4f(0.0);
    var acc2 = vec4f(0.0);
    var acc3 = vec4f(0.0);""")
    return t

variants = {
    "base": {},
    "ffw-fma1": {"fused_forward_wide.wgsl": edit(FFW, ACC_OLD, "        (*acc)[0] += xv.x * wv;")},
    "ffw-noload": {"fused_forward_wide.wgsl": edit(edit(FFW,
        "    return pixel4(images[sample_of[s] * WORDS + r * (KC / 4u) + lid % (KC / 4u)]);",
        "    return vec4f(f32(r & 7u), f32(s), 0.5, 0.25);"),
        "    return params4[OFF_W1 / 4u + (j0 + j) * WORDS + r * (KC / 4u) + lid % (KC / 4u)];",
        "    return vec4f(f32(j), f32(r & 3u), 0.5, 0.25);")},
    "ffw-nostage": {"fused_forward_wide.wgsl": edit(edit(FFW,
        "    stage(0u, row, kq, xv);\n", ""), "    stage(KC * R4, row, kq, wv);\n", "")},
    "ffw-nobar": {"fused_forward_wide.wgsl": edit(FFW, """        accumulate(tx, ty, &acc);
        workgroupBarrier();""", "        accumulate(tx, ty, &acc);")},
    "ffw-noxstore": {"fused_forward_wide.wgsl": edit(FFW, "    if (r % htiles == ht && b0 + row < step.count) {",
                                                      "    if (r > 1000u) {")},
    "ffw-named": {"fused_forward_wide.wgsl": named(False)},
    "ffw-named-fma": {"fused_forward_wide.wgsl": named(True)},
    "fu-named-fma": {"fused_update.wgsl": edit(edit(edit(FU, """            var acc: array<vec4f, 4>;  // acc[i]: hidden unit j0 + 4 ty + i, the 4 inputs
            for (var i = 0u; i < 4u; i++) {
                acc[i] = vec4f(0.0);
            }""", """            var acc0 = vec4f(0.0);
            var acc1 = vec4f(0.0);
            var acc2 = vec4f(0.0);
            var acc3 = vec4f(0.0);"""), """                    acc[0] += d.x * x;
                    acc[1] += d.y * x;
                    acc[2] += d.z * x;
                    acc[3] += d.w * x;""", """                    acc0 = fma(vec4f(d.x), x, acc0);
                    acc1 = fma(vec4f(d.y), x, acc1);
                    acc2 = fma(vec4f(d.z), x, acc2);
                    acc3 = fma(vec4f(d.w), x, acc3);"""), """            for (var i = 0u; i < 4u; i++) {
                let j = j0 + 4u * ty + i;""", """            var acc = array<vec4f, 4>(acc0, acc1, acc2, acc3);
            for (var i = 0u; i < 4u; i++) {
                let j = j0 + 4u * ty + i;""")},
    # the forward's pixel loads all to one word per warp (a broadcast) instead of 16 samples' rows
    "fst-bcast": {"fused_step.wgsl": edit(FST, "let x = pixel4(images[next_sample[4u * bg + i] * WORDS + wd]);",
                                          "let x = pixel4(images[next_sample[0] * WORDS + wd]) + f32(i);")},
    "fu-fma1": {"fused_update.wgsl": edit(FU, """                    acc[1] += d.y * x;
                    acc[2] += d.z * x;
                    acc[3] += d.w * x;
""", "")},
}
for name, files in variants.items():
    d = out / name
    if d.exists():
        shutil.rmtree(d)
    shutil.copytree(src, d)
    for f, text in files.items():
        (d / f).write_text(text)
print(" ".join(variants))
