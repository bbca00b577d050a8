#!/usr/bin/env bash
# Runs a cross-built static qtool the way an edge board would, with
# nothing else installed (the built-in model, in an empty folder), under a
# user-mode emulator, and checks that its output is sane. Emulated timings
# say nothing about a board: this checks correctness only.
# Usage: scripts/edge-check.sh EMULATOR BINARY GOARCH
set -euo pipefail
emu=$1
bin=$(realpath "$2")
arch=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fail() {
	echo "edge-check: $bin: $*" >&2
	exit 1
}
# field FILE KEY: the first number after "KEY": in a JSON file.
field() { sed -n "s/.*\"$2\": \([-0-9.e+]*\).*/\1/p" "$1" | head -n 1; }
positive() { awk -v x="$1" 'BEGIN { exit !(x > 0) }'; }

$emu "$bin" version | grep -q "linux/$arch" || fail "version does not say linux/$arch"

$emu "$bin" bench --runs 3 --warmup 1 --json >bench.json || fail "bench failed"
grep -q "\"goarch\": \"$arch\"" bench.json || fail "bench JSON lacks goarch $arch"
grep -q '"runtime": "qtool"' bench.json || fail "bench JSON lacks a qtool result"
p50=$(field bench.json p50_ms)
positive "$p50" || fail "bench p50_ms is '$p50'"
[ "$(field bench.json median_ratio)" = 1 ] || fail "the first model's median_ratio is not 1"

# Every kernel family on every path this (emulated) CPU runs, one small shape.
$emu "$bin" bench --kernels --shapes 64x64x64 --time 1ms --rounds 1 >kernels.txt || fail "bench --kernels failed"
grep -q fp32 kernels.txt || fail "bench --kernels printed no fp32 row"

# The built-in CNN on the first 50 built-in test images (pure Go on armv7
# takes about a second an image under qemu).
$emu "$bin" eval --limit 50 --json >eval.json || fail "eval failed"
top1=$(field eval.json top1)
awk -v x="$top1" 'BEGIN { exit !(x >= 80 && x <= 100) }' || fail "eval top1 is '$top1'"

echo "edge-check: $bin on $arch: bench p50 $p50 ms under $emu (correctness only), kernels ok, eval top-1 $top1 % on 50 images"
