# Sourced by the device runs' scripts (bench/results/*/runNN.sh) on the lent GPU machine, from
# the repository root: the Vulkan loader and the libraries wgtrain links, carried in .gl (made
# by ../shared/device/prepare-vulkan.sh, with the binary's other libraries copied to .gl/lib),
# installed and put on LD_LIBRARY_PATH; the card and driver into $OUT/card.txt; and b, which
# appends one `wgtrain bench` to $OUT/speed.jsonl with its label:
#   b LABEL BINARY BATCHES [more bench arguments]
for f in .gl/*.deb; do dpkg -x "$f" / >/dev/null; done
ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/card.txt" 2>&1
b() {
  local label=$1 bin=$2 batches=$3
  shift 3
  timeout 100 "$bin" bench --data build/web/data --batches "$batches" --epochs 5 --json "$@" |
    sed "s|^{|{\"v\":\"$label\",|" >> "$OUT/speed.jsonl" 2>>"$OUT/errors.log"
}
