#!/usr/bin/env bash
# Re-vendors openvino-node's shipped type declarations (see vendor/openvino-node/README.md).
set -euo pipefail
version=${1:?usage: update-openvino-types.sh <openvino-node version>}
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "openvino-node@$version" >/dev/null && tar xzf openvino-node-*.tgz)
cp "$tmp"/package/types/*.d.ts "$root/vendor/openvino-node/types/"
sed -i "s/openvino-node@[0-9.]*/openvino-node@$version/" "$root/vendor/openvino-node/README.md"
echo "vendored openvino-node@$version type declarations"
