#!/usr/bin/env bash
# device run 19 (2026-12-02, fifth session): run 18's tta part again (a second sample of every
# wgtrain recipe) with PyTorch's presets after torch_reference.py's capture fix (run 18's PyTorch
# time-to-accuracy command stopped at wgtrain-fast-b256's second seed: a graph capture
# invalidated). Writes under $OUT (one archive).
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
O=/tmp/run19; mkdir -p $O
PART=tta BUDGET_S=420 DATA=build/web/data OUT=$O TORCH_RECIPES=wgtrain-fast,wgtrain-fast-b256,torch-best,torch-b512,wgtrain-default bash bench/run_device.sh > /dev/null 2>&1
tar czf $OUT/run19.tgz -C $O .
