# qtool's build and test entry points. `make test` is what CI runs.
GO ?= go
FUZZTIME ?= 250000x

.PHONY: all build test test-deps check unit full arm64 fuzz fixtures clean

all: build

build:
	$(GO) build -o qtool ./cmd/qtool

# Everything CI checks, from a fresh clone: installs the reference data and
# tools (idempotently), then formatting, vet, the race-enabled tests, the
# arm64 build and tests under qemu, and a short fuzz run.
test: test-deps check unit full arm64 fuzz

test-deps:
	scripts/setup-test-deps.sh

check:
	@out=$$(gofmt -l . | grep -v '^\.cache/' || true); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./...

# The purego build tag leaves the assembly out: the generic path alone.
unit:
	$(GO) test -race -count=1 ./...
	$(GO) vet -tags purego ./kernels
	$(GO) test -count=1 -tags purego ./kernels

# Tests too slow for the race detector and qemu (build tag !race), such as
# the engine against ONNX Runtime on the full Fashion-MNIST test split.
full:
	$(GO) test -count=1 -run 'FullSplit' ./engine
	$(GO) test -count=1 -run 'FullSplit|OCRModels' ./quant
	$(GO) test -count=1 -run 'FullSplit|PostTrainingThresholds' ./binarize
	$(GO) test -count=1 -run 'OCRDetector' ./cmd/qtool

# arm64 binaries run under user-mode qemu (binfmt is not registered here):
# once with every feature, once as a Cortex-A53 (no dot product, no i8mm).
arm64:
	GOARCH=arm64 $(GO) test -count=1 -timeout 30m -exec qemu-aarch64-static ./...
	GOARCH=arm64 $(GO) test -count=1 -timeout 30m -exec 'qemu-aarch64-static -cpu cortex-a53' ./kernels

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

# Retrains the Fashion-MNIST fixture models (see testdata/README.md).
fixtures:
	/usr/bin/python3 testdata/train/train_fixtures.py --arch all

clean:
	rm -f qtool
