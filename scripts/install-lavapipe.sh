#!/usr/bin/env bash
# Installs Mesa's lavapipe (a software Vulkan device) from bookworm-backports, so that onnxruntime's
# WebGPU execution provider (Dawn -> Vulkan) has an adapter on machines without a GPU.
# bookworm's own mesa (22.3) lacks what Dawn needs; backports carries 25.x.
# The backports suite is added on the same mirror the machine already uses (read from its apt sources).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install-lavapipe: run as root (apt-get)" >&2; exit 2; }
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $3 ~ /^bookworm/ { print $2; exit }' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { echo "install-lavapipe: no Debian mirror found in the apt sources" >&2; exit 1; }
  cat > /etc/apt/sources.list.d/aivmm-bookworm-backports.sources <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
dpkg-query -W -f='${Package} ${Version}\n' mesa-vulkan-drivers libvulkan1
