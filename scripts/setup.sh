#!/usr/bin/env bash
# One-time set-up that the README's commands call: npm packages, then a WebGPU adapter; with the argument `text`, also
# the default English corpus of `wgtrain train --model gpt` (Debian's fortunes package), which `test` installs too
# (the browser end-to-end test trains the text tab on it).
# On a Linux machine without a GPU, Dawn needs a Vulkan driver; Mesa's lavapipe from Debian bookworm-backports
# (Mesa 25) is one. bookworm's own Mesa 22 is too old for Dawn, hence the backports suite.
# Idempotent: each step is skipped when already done, so calling it before every command costs about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[setup] %s\n' "$*" >&2; }
: "${XDG_RUNTIME_DIR:=/tmp/xdg-runtime-$(id -u)}"; export XDG_RUNTIME_DIR
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true

# 1. npm packages (and the esbuild bundle, built by the `prepare` script) when missing or older than the lock file.
if [ ! -d node_modules/webgpu ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
fi
node scripts/build.mjs # the CLI bundle; rebuilt every time (under a second) so it never lags the sources

# 2. A WebGPU adapter. The probe asks Dawn exactly what the engine will ask.
if adapter=$(node scripts/probe-adapter.mjs 2>/dev/null); then
  say "WebGPU adapter: $adapter"
else
  need_cmds='echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
apt-get update
apt-get install -y -t bookworm-backports libvulkan1 mesa-vulkan-drivers'
  codename=$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)
  if [ "$(id -u)" != 0 ] || [ "$codename" != bookworm ] || ! command -v apt-get >/dev/null; then
    say "no WebGPU adapter found, and this script installs one only as root on Debian 12 (bookworm)."
    say "On Debian 12, run as root:"; printf '%s\n' "$need_cmds" >&2
    say "Elsewhere: install a Vulkan driver (your GPU's, or Mesa >= 24 lavapipe: mesa-vulkan-drivers) and the Vulkan loader (libvulkan1)."
    exit 1
  fi
  say "no WebGPU adapter found: installing Mesa lavapipe (software Vulkan) from bookworm-backports"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq -t bookworm-backports libvulkan1 mesa-vulkan-drivers >&2
  if adapter=$(node scripts/probe-adapter.mjs); then
    say "WebGPU adapter: $adapter"
  else
    say "lavapipe was installed but Dawn still finds no adapter; run 'node scripts/probe-adapter.mjs' to see why."
    exit 1
  fi
fi

# Steps 3 and 4 install Debian packages when this is root on Debian 12 (bookworm); elsewhere they say what to run.
# debian_install "WHAT IT IS FOR" PACKAGE...
debian_install() {
  local why=$1 codename; shift
  codename=$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)
  if [ "$(id -u)" != 0 ] || [ "$codename" != bookworm ] || ! command -v apt-get >/dev/null; then
    say "missing $*: $why will fail. On Debian 12, run as root: apt-get update && apt-get install -y $*"
    return 0
  fi
  say "installing Debian's $* for $why"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "$@" >&2
}

# 3. Chromium for the browser demo's end-to-end test (test/browser.e2e.test.ts drives Debian's /usr/bin/chromium
#    through playwright-core; playwright's own browser downloads are never used). Only for `test`: training needs none.
if [ "${1:-}" = test ] && [ ! -x /usr/bin/chromium ]; then debian_install 'the browser end-to-end test' chromium; fi

# 4. PyTorch on the CPU (Debian's python3-torch, with OpenBLAS's threaded build): `bench --compare torch` measures
#    it in the same run, and test/export_pytorch.test.ts runs what `wgtrain export --format pytorch` writes in it.
#    Only for `test` and `torch`, and when /usr/bin/python3 cannot import torch.
if { [ "${1:-}" = test ] || [ "${1:-}" = torch ]; } && ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  debian_install "'bench --compare torch' and the PyTorch export tests" python3-torch libopenblas0-pthread
fi

# 5. Only with `scripts/setup.sh text` (or `test`, which `npm test` passes): the default corpus of the GPT model, Debian's `fortunes` (about 2.4 MB of
#    English quotations, jokes and poems in /usr/share/games/fortunes). Installed here, never fetched at run time.
if { [ "${1:-}" = text ] || [ "${1:-}" = test ]; } && [ ! -f /usr/share/games/fortunes/cookie ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "the GPT's default corpus is missing. As root on Debian: apt-get update && apt-get install -y fortunes (or pass --data FILE.txt)"
    exit 1
  fi
  say "installing Debian's fortunes (the GPT's default English corpus)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq fortunes >&2
fi
