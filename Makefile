# qtool's build and test entry points. `make test` is what CI runs.
GO ?= go
FUZZTIME ?= 250000x

.PHONY: all build test test-deps check unit ort full arm64 edge fuzz dist fixtures clean

all: build

build:
	$(GO) build -o qtool ./cmd/qtool

# Everything CI checks, from a fresh clone: installs the reference data and
# tools (idempotently), then formatting, vet, the race-enabled tests, the
# arm64 build and tests under qemu, and a short fuzz run.
test: test-deps check unit ort full arm64 edge fuzz

test-deps:
	scripts/setup-test-deps.sh

check:
	@out=$$(gofmt -l . | grep -v '^\.cache/' || true); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./...
	GOARCH=arm GOARM=7 $(GO) vet ./...
	$(GO) vet -tags ort ./internal/ort ./bench ./cmd/qtool

# The purego build tag leaves the assembly out: the generic path alone.
unit:
	$(GO) test -race -count=1 ./...
	$(GO) vet -tags purego ./kernels
	$(GO) test -count=1 -tags purego ./kernels

# The ONNX Runtime binding behind `qtool bench --ort` (build tag ort, cgo)
# against onnxruntime-node's library.
ort:
	$(GO) test -count=1 -tags ort ./internal/ort ./bench
	$(GO) test -count=1 -tags ort -run 'BenchORT' ./cmd/qtool

# Tests too slow for the race detector and qemu (build tag !race), such as
# the engine against ONNX Runtime on the full Fashion-MNIST test split.
full:
	$(GO) test -count=1 -run 'FullSplit' ./engine
	$(GO) test -count=1 -run 'FullSplit|OCRModels' ./quant
	$(GO) test -count=1 -run 'FullSplit|PostTrainingThresholds' ./binarize
	$(GO) test -count=1 -run 'OCRDetector|QuantizeDefaults|SweepCommand' ./cmd/qtool

# arm64 binaries run under user-mode qemu (binfmt is not registered here):
# once with every feature, once as a Cortex-A53 (no dot product, no i8mm).
arm64:
	GOARCH=arm64 $(GO) test -count=1 -timeout 30m -exec qemu-aarch64-static ./...
	GOARCH=arm64 $(GO) test -count=1 -timeout 30m -exec 'qemu-aarch64-static -cpu cortex-a53' ./kernels

# Edge boards: the static release binaries for linux/arm64 and linux/arm
# (GOARMv7) run as on a board, under qemu (correctness only), and the
# 32-bit ARM kernels pass their tests.
edge:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(DIST_FLAGS) -o dist/qtool-linux-arm64 ./cmd/qtool
	scripts/edge-check.sh qemu-aarch64-static dist/qtool-linux-arm64 arm64
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build $(DIST_FLAGS) -o dist/qtool-linux-armv7 ./cmd/qtool
	scripts/edge-check.sh qemu-arm-static dist/qtool-linux-armv7 arm
	GOARCH=arm GOARM=7 $(GO) test -count=1 -timeout 30m -exec qemu-arm-static ./kernels

# Budgets are execution counts (about 10-20 s each here), not durations:
# Go 1.26's fuzz coordinator can report "context deadline exceeded" when a
# duration runs out on a loaded machine (golang/go#75804, fixed in 1.27).
# Minimizing is capped: with the default of a minute per new input the
# fuzzer spends nearly all its time minimizing.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoadBytes$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5x ./onnxio
	$(GO) test -run '^$$' -fuzz '^FuzzInferShapes$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5x ./onnxio
	$(GO) test -run '^$$' -fuzz '^FuzzReadNPY$$' -fuzztime 45000x -fuzzminimizetime 5x ./calib
	$(GO) test -run '^$$' -fuzz '^FuzzQGemm$$' -fuzztime 50000x -fuzzminimizetime 5x ./kernels
	$(GO) test -run '^$$' -fuzz '^FuzzQDepthwiseConv$$' -fuzztime 100000x -fuzzminimizetime 5x ./kernels
	$(GO) test -run '^$$' -fuzz '^FuzzReadIDX$$' -fuzztime 100000x -fuzzminimizetime 5x ./calib
	$(GO) test -run '^$$' -fuzz '^FuzzReadNPZ$$' -fuzztime 100000x -fuzzminimizetime 5x ./calib
	$(GO) test -run '^$$' -fuzz '^FuzzBinaryConv$$' -fuzztime 25000x -fuzzminimizetime 5x ./kernels

# Static binaries (CGO_ENABLED=0, so no ONNX Runtime binding) for
# desktops and edge boards, in dist/, stamped with git describe.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
DIST_FLAGS = -trimpath -ldflags '-s -w -X main.version=$(VERSION)'

dist:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(DIST_FLAGS) -o dist/qtool-linux-amd64 ./cmd/qtool
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(DIST_FLAGS) -o dist/qtool-linux-arm64 ./cmd/qtool
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build $(DIST_FLAGS) -o dist/qtool-linux-armv7 ./cmd/qtool
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) build $(DIST_FLAGS) -o dist/qtool-darwin-arm64 ./cmd/qtool
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build $(DIST_FLAGS) -o dist/qtool-windows-amd64.exe ./cmd/qtool

# Retrains the Fashion-MNIST fixture models (see testdata/README.md).
fixtures:
	/usr/bin/python3 testdata/train/train_fixtures.py --arch all

clean:
	rm -f qtool
	rm -rf dist
