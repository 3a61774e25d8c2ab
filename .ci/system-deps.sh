#!/usr/bin/env bash
# System packages the test suite needs beyond Node and pnpm. Idempotent: installs only
# what is missing, and runs `apt-get update` only when it has something to install.
#
# WebGPU in Node (the `webgpu` npm package = Dawn) needs a Vulkan loader and a Vulkan
# driver. On machines without a GPU the driver is Mesa's lavapipe (a CPU Vulkan driver,
# package mesa-vulkan-drivers). Dawn requires shader{Sampled,Storage}ImageArrayDynamicIndexing,
# which lavapipe only reports from Mesa 23 on; Debian 12 (bookworm) ships Mesa 22.3, so on
# bookworm the driver comes from bookworm-backports (Mesa 25). Debian 13 (trixie) and later
# have a recent enough Mesa in main.
#
# Never fails the CI run: without these packages the WebGPU tests skip with a logged reason.
set -uo pipefail

MIN_MESA=23.0
log() { echo "[system-deps] $*"; }

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  log "no apt-get/dpkg here; skipping (WebGPU tests will skip unless a Vulkan driver is present)"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo -n"
  if ! $SUDO true 2>/dev/null; then log "not root and no passwordless sudo; skipping"; exit 0; fi
else
  SUDO=""
fi

# Debian's chromium for the browser demo's tests (apps/web, Playwright drives /usr/bin/chromium).
# Without it those tests skip with a logged reason.
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  log "installing chromium (for apps/web's browser tests)"
  if $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq chromium >/dev/null; then
    log "ok: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)"
  else
    log "chromium install failed; apps/web's browser tests will skip"
  fi
else
  log "chromium already installed"
fi

# Debian's PyTorch for the tests that run the official VAR code (../shared/reference/VAR) on
# files var.ts writes (.pth writer, official model directories, trainer checkpoints), and pytz,
# which the official utils/misc.py imports. The tests call /usr/bin/python3; without torch they
# skip with a logged reason. libopenblas0-pthread: without it (--no-install-recommends) torch's
# libblas.so.3 is netlib's reference BLAS, 50-70x slower here, which makes those tests slow and
# every PyTorch baseline of `pnpm bench` meaningless (the bench checks it: torch-side.ts).
if ! /usr/bin/python3 -c 'import torch, pytz' >/dev/null 2>&1 || [ -z "$(dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep ' installed')" ]; then
  export DEBIAN_FRONTEND=noninteractive
  log "installing python3-torch python3-tz libopenblas0-pthread (for the official-code interop tests)"
  if $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq --no-install-recommends python3-torch python3-tz libopenblas0-pthread >/dev/null; then
    log "ok: torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null || echo '?')"
  else
    log "python3-torch install failed; the official-code interop tests will skip"
  fi
else
  log "python3-torch already installed"
fi

pkg_version() { dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$1" 2>/dev/null | awk '$1 ~ /^ii/ {print $2}'; }

mesa_ok() {
  local v
  v=$(pkg_version mesa-vulkan-drivers)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge "$MIN_MESA"
}

if [ -n "$(pkg_version libvulkan1)" ] && mesa_ok; then
  log "libvulkan1 $(pkg_version libvulkan1) and mesa-vulkan-drivers $(pkg_version mesa-vulkan-drivers) already installed"
  exit 0
fi

. /etc/os-release 2>/dev/null || true
codename="${VERSION_CODENAME:-}"
export DEBIAN_FRONTEND=noninteractive
target=()

if [ "$codename" = "bookworm" ]; then
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding bookworm-backports (for Mesa >= $MIN_MESA)"
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
      'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | $SUDO tee "$src" >/dev/null
  fi
  target=(-t bookworm-backports)
fi

log "apt-get update"
if ! $SUDO apt-get update -qq >/dev/null; then log "apt-get update failed; WebGPU tests will skip"; exit 0; fi
log "installing libvulkan1 mesa-vulkan-drivers ${target[*]}"
if ! $SUDO apt-get install -y -qq --no-install-recommends "${target[@]}" libvulkan1 mesa-vulkan-drivers >/dev/null; then
  log "apt-get install failed; WebGPU tests will skip"
  exit 0
fi
if mesa_ok; then
  log "ok: mesa-vulkan-drivers $(pkg_version mesa-vulkan-drivers)"
else
  log "warning: mesa-vulkan-drivers $(pkg_version mesa-vulkan-drivers) is older than $MIN_MESA; Dawn may find no adapter"
fi
exit 0
