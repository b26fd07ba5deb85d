#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/ (stdlib only; run from anywhere).

checkpoint/: valid wgtrain model and training-state files (hidden 1 and 2) plus one file per
malformed-header family the parser refuses; idx/: small raw and gzip IDX files, valid and
broken; image/: small PGM (P2, P5, 16-bit) and PNG (gray, gray+alpha, RGB, RGBA, palette)
images. Re-running it rewrites the same files."""
import gzip, json, os, struct, zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(sub, name, data):
    d = os.path.join(root, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ---- safetensors ----
def st_file(tensors, meta=None, pad=True, raw_header=None):
    """tensors: list of (name, shape, floats)"""
    hdr, data, off = {}, b"", 0
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, shape, vals in tensors:
        b = struct.pack("<%df" % len(vals), *vals)
        hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
        data += b
        off += len(b)
    h = raw_header if raw_header is not None else json.dumps(hdr, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-(8 + len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data

def model(h, meta=True):
    vals = lambda n, s: [((i * 7919 + s) % 200 - 100) / 1000.0 for i in range(n)]
    t = [("0.weight", [h, 784], vals(h * 784, 1)), ("0.bias", [h], vals(h, 2)),
         ("2.weight", [10, h], vals(10 * h, 3)), ("2.bias", [10], vals(10, 4))]
    m = {"format": "pt", "producer": "wgtrain", "hidden": str(h), "epoch": "2", "epochs": "3", "batch": "128",
         "lr": "0.0500000007", "momentum": "0.899999976", "schedule": "cosine", "seed": "1", "dataset": "MNIST",
         "input_normalization": "x = (pixel / 255 - 0.1307) / 0.3081", "test_accuracy": "0.848700"} if meta else None
    return t, m

def fnv_params(floats):
    h = 0xcbf29ce484222325
    for b in struct.pack("<%df" % len(floats), *floats):
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

for h in (1, 2):
    t, m = model(h)
    put("checkpoint", "model_h%d.safetensors" % h, st_file(t, m))
    params = [v for _, _, vs in t for v in vs]
    n = len(params)
    state_meta = {"format": "wgtrain-training-state", "version": "1", "producer": "wgtrain", "epochs_done": "2",
                  "global_step": "32", "steps_per_epoch": "16", "train_samples": "2000",
                  "train_fingerprint": "0123456789abcdef", "model_fingerprint": "%016x" % fnv_params(params),
                  "seed": "1", "hidden": str(h), "batch": "128", "epochs": "3", "lr": "0.0500000007",
                  "momentum": "0.899999976", "schedule": "cosine", "save_every": "1", "kernels": "fused",
                  "rng": "splitmix64 seeded from (seed, epoch)", "data_order": "mlp_epoch_order(seed, e)"}
    put("checkpoint", "state_h%d.safetensors" % h,
        st_file([("optimizer.velocity", [n], [((i * 31) % 17 - 8) / 100.0 for i in range(n)])], state_meta))
t, _ = model(1, meta=False)
put("checkpoint", "model_h1_nometa.safetensors", st_file(t))
put("checkpoint", "empty.safetensors", st_file([]))
put("checkpoint", "one_tensor.safetensors", st_file([("x", [2], [1.0, -2.0])], {"k": "v"}))
put("checkpoint", "escapes.safetensors",
    st_file([("\u00e9\\\"\n", [1], [0.5])], {"caf\u00e9": "\ud83d\ude00 tab\t nl\n", "": ""}))
cases = {
    "f16.safetensors": b'{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}',
    "overlap.safetensors": b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
    "gap.safetensors": b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    "size.safetensors": b'{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}',
    "overflow.safetensors": b'{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}',
    "deep.safetensors": b'{"a":' + b"[" * 70 + b"]" * 70 + b"}",
    "numbers.safetensors": b'{"a":[0,-1,1.5e10,-0.0E-5,true,false,null,"\\u0041\\ud834\\udd1e"]}',
    "notjson.safetensors": b"{this is not json}",
}
for name, hdr in cases.items():
    put("checkpoint", name, st_file([], raw_header=hdr) + b"\0" * 12)
put("checkpoint", "short.safetensors", b"\x05\x00\x00")
put("checkpoint", "pastend.safetensors", struct.pack("<Q", 1000) + b'{"a":1}')

# ---- IDX ----
def idx(rank_dims, payload):
    return b"\x00\x00\x08" + bytes([len(rank_dims)]) + b"".join(struct.pack(">I", d) for d in rank_dims) + payload

img2 = bytes((i * 37) % 256 for i in range(2 * 28 * 28))
put("idx", "images2.idx", idx([2, 28, 28], img2))
put("idx", "labels2.idx", idx([2], b"\x03\x07"))
put("idx", "images2.idx.gz", gzip.compress(idx([2, 28, 28], img2), mtime=0))
put("idx", "labels2.idx.gz", gzip.compress(idx([2], b"\x03\x07"), mtime=0))
put("idx", "truncated.idx", idx([2, 28, 28], img2[:100]))
put("idx", "long.idx", idx([1], b"\x01\x02"))
put("idx", "overflow.idx", idx([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b""))
put("idx", "badmagic.idx", b"\x00\x00\x09\x01\x00\x00\x00\x01\x05")
put("idx", "rank2.idx", b"\x00\x00\x08\x02\x00\x00\x00\x01\x00\x00\x00\x01\x05")
put("idx", "gz_truncated.gz", gzip.compress(idx([2, 28, 28], img2), mtime=0)[:40])
put("idx", "gz_concat.gz", gzip.compress(idx([2], b"\x01\x02"), mtime=0) + gzip.compress(b"xx", mtime=0))

# ---- images ----
def png(w, h, color_type, bit_depth, rows, palette=None, trns=None):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    if palette:
        out += chunk(b"PLTE", palette)
    if trns:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

digit = [[255 if (6 <= x <= 9 and 3 <= y <= 13) or (y == 13 and 4 <= x <= 11) else 0 for x in range(16)] for y in range(16)]
put("image", "digit16.pgm", b"P5\n16 16\n255\n" + bytes(v for r in digit for v in r))
put("image", "digit8.pgm", b"P2\n# plain\n8 4\n15\n" + b"\n".join(b" ".join(b"%d" % ((x * y) % 16) for x in range(8)) for y in range(4)) + b"\n")
put("image", "digit16_16bit.pgm", b"P5 4 2 65535\n" + b"".join(struct.pack(">H", v * 1000) for v in range(8)))
put("image", "gray.png", png(16, 16, 0, 8, [bytes(255 - v for v in r) for r in digit]))
put("image", "gray16.png", png(4, 4, 0, 16, [b"".join(struct.pack(">H", (x + y) * 8000) for x in range(4)) for y in range(4)]))
put("image", "ga.png", png(8, 8, 4, 8, [b"".join(bytes([0, 255 if x == y else 0]) for x in range(8)) for y in range(8)]))
put("image", "rgb.png", png(8, 8, 2, 8, [b"".join(bytes([x * 30, y * 30, 128]) for x in range(8)) for y in range(8)]))
put("image", "rgba.png", png(8, 8, 6, 8, [b"".join(bytes([0, 0, 0, 255 if x == 4 else 0]) for x in range(8)) for y in range(8)]))
put("image", "palette.png", png(8, 8, 3, 2, [bytes([0b00011011, 0b11100100]) for y in range(8)],
                                palette=bytes([0, 0, 0, 255, 255, 255, 128, 128, 128, 10, 20, 30]), trns=b"\xff\x00"))
put("image", "bits1.png", png(8, 8, 0, 1, [bytes([0b10101010 >> (y % 2)]) for y in range(8)]))
print("fuzz corpora written to", root)
