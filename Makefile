# seqdiff: the two commands a newcomer types are `make demo` and `make test`.
GO       ?= go
# GOEXPERIMENT=simd turns on the vectorised exp/GELU kernels (Go 1.26,
# amd64); a plain `go build` still works with the scalar fallback.
GOEXP    ?= simd
BIN      := bin/seqdiff
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)

.PHONY: build demo test test-short vet lint fuzz bench-prep clean cuda-emu test-cuda-emu

build:
	CGO_ENABLED=0 GOEXPERIMENT=$(GOEXP) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/seqdiff

# The whole study on the embedded genome slices (configs/study-demo.yaml):
# prep, MLM pre-training, MDLM and AR fine-tuning, perplexity, human-or-worm
# classification over 3 seeds, sampling speed, figures and
# demo-out/report.md. A second run skips the stages already done (a killed
# demo resumes); rm -rf demo-out to start over.
demo: build
	./$(BIN) experiment --config configs/study-demo.yaml --out demo-out

# OpenBLAS core for the whole suite: its AVX2 kernels (Haswell) where the
# CPU has AVX2 and FMA, since they round a product differently with its row
# count and the tests must hold there too; elsewhere (empty) OpenBLAS's own
# choice. The CPU kernel packages then run again on OpenBLAS's own choice,
# on the pure Go kernels (SEQDIFF_BLAS=off) and without GOEXPERIMENT=simd.
# e.g. make test OPENBLAS_CORE=Sandybridge
OPENBLAS_CORE ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo Haswell)
CPU_PKGS := ./compute/... ./nn/...

test:
	$(GO) vet ./...
	$(if $(OPENBLAS_CORE),OPENBLAS_CORETYPE=$(OPENBLAS_CORE)) CGO_ENABLED=0 GOEXPERIMENT=$(GOEXP) $(GO) test -count=1 ./...
	CGO_ENABLED=0 GOEXPERIMENT=$(GOEXP) $(GO) test -count=1 $(CPU_PKGS)
	SEQDIFF_BLAS=off CGO_ENABLED=0 GOEXPERIMENT=$(GOEXP) $(GO) test -count=1 $(CPU_PKGS)
	CGO_ENABLED=0 $(GO) test -count=1 $(CPU_PKGS)

# The emulated CUDA device (compute/cuda/emu): libcuda, NVRTC and cuBLAS
# stand-ins built with the system C++ compiler, so the unchanged Go backend
# runs its own kernels on the CPU. SEQDIFF_CUDA_LIBS=$(EMU_DIR) selects it.
CXX      ?= c++
EMU_DIR  := build/cuda-emu
EMU_SRC  := $(wildcard compute/cuda/emu/*.cpp)
EMU_HDR  := $(wildcard compute/cuda/emu/*.h)
cuda-emu: $(EMU_DIR)/libseqdiff_cuda_emu.so
$(EMU_DIR)/libseqdiff_cuda_emu.so: $(EMU_SRC) $(EMU_HDR)
	mkdir -p $(EMU_DIR)
	$(CXX) -std=c++17 -O2 -g -fPIC -shared -Wall -Wextra -Wno-unused-parameter -o $@.tmp $(EMU_SRC) -ldl -lpthread
	cp compute/cuda/emu/cuda_builtins.h compute/cuda/emu/emu_macros.h $(EMU_DIR)/
	for l in libcuda.so.1 libnvrtc.so.12 libcublas.so.12 libnccl.so.2; do ln -sf libseqdiff_cuda_emu.so $(EMU_DIR)/$$l; done
	mv $@.tmp $@

# Every test of compute/cuda and compute/backend (the CUDA training tests
# included) against the emulated device; a skipped test fails the target.
test-cuda-emu: cuda-emu
	scripts/test-cuda-emu.sh

# staticcheck (.ci/run installs the pinned version into bin/).
STATICCHECK ?= staticcheck
lint:
	CGO_ENABLED=0 GOEXPERIMENT=$(GOEXP) $(STATICCHECK) ./...
	CGO_ENABLED=0 $(STATICCHECK) ./...

# The streaming genome readers, one after the other. New inputs are
# minimised for at most 5 s: the default minute per input stalls targets
# that write files (FuzzVCF) for most of their run.
fuzz:
	$(GO) test ./genome/ -run '^$$' -fuzz FuzzFASTA -fuzztime 5m
	$(GO) test ./genome/ -run '^$$' -fuzz FuzzVCF -fuzztime 5m -fuzzminimizetime 5s

bench-prep: build
	scripts/bench-prep.sh

clean:
	rm -rf bin demo-out
