#!/bin/bash
# The WebGPU check of docs/gpu.md, in two halves.
#   bash scripts/webgpu-probe.sh pack   # here: needs npm access; fills .webgpu-probe/ (git-ignored, ~31 MB)
#   bash scripts/webgpu-probe.sh run    # on the GPU machine (carry .webgpu-probe): prints the probe's lines
# The GPU machine has no Node.js and no network, so `pack` brings a compressed node binary, Dawn's
# dawn.node (npm `webgpu`), the Vulkan loader and libglvnd as Debian packages, and the probe bundled with
# tfjs and tfjs-backend-webgpu by esbuild.
set -euo pipefail
D=.webgpu-probe
case "${1:-}" in
pack)
  grep -qx "/$D/" .git/info/exclude || echo "/$D/" >> .git/info/exclude
  rm -rf "$D" && mkdir -p "$D/debs" "$D/w" /tmp/amd64/partial
  (cd "$D/w" && npm init -y >/dev/null && npm install --no-audit --no-fund --ignore-scripts webgpu@0.6.2 @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0 >/dev/null)
  node_modules/.bin/esbuild scripts/webgpu-probe.mjs --bundle --platform=node --format=esm --external:webgpu \
    --external:../dist/backend/tf.js --log-level=error --outfile="$D/probe.mjs" --alias:@tensorflow/tfjs="$PWD/$D/w/node_modules/@tensorflow/tfjs" \
    --alias:@tensorflow/tfjs-backend-webgpu="$PWD/$D/w/node_modules/@tensorflow/tfjs-backend-webgpu" \
    "--banner:js=import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
  mkdir -p "$D/node_modules/webgpu/dist/linux-x64"
  cp "$D"/w/node_modules/webgpu/{index.js,package.json} "$D/node_modules/webgpu/"
  xz -T2 -6 -c "$D/w/node_modules/webgpu/dist/linux-x64/dawn.node" > "$D/dawn.node.xz"
  xz -T2 -6 -c "$(command -v node)" > "$D/node.xz"
  rm -rf "$D/w"
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update >/dev/null 2>&1 || true
  (cd "$D/debs" && apt-get $o download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 2>&1 | grep -v unsandboxed | tail -1)
  du -sh "$D" ;;
run)
  W=/tmp/webgpu-probe; mkdir -p "$W/node_modules/webgpu/dist/linux-x64"
  xz -dc "$D/node.xz" > "$W/node" && chmod +x "$W/node"
  xz -dc "$D/dawn.node.xz" > "$W/node_modules/webgpu/dist/linux-x64/dawn.node"
  cp "$D"/node_modules/webgpu/*.* "$W/node_modules/webgpu/" && cp "$D/probe.mjs" "$W/"
  for f in "$D"/debs/*.deb; do dpkg -x "$f" /; done; ldconfig
  # The NVIDIA Vulkan driver's manifest; libGLX_nvidia needs libglvnd's dispatcher (the debs above).
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=/tmp
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
  cd "$W" && ./node probe.mjs webgpu ;;
*) echo "usage: bash scripts/webgpu-probe.sh pack|run" >&2; exit 2 ;;
esac
