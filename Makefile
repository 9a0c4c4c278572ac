# medmir: `make demo` (install + build + serve the main job) and `make test` (install + every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.medmir-installed
SHARED ?= ../shared
BIOMEDCLIP_CONFIG := $(SHARED)/models/biomedclip

WEB_STAMP := web/node_modules/.medmir-installed
CHROMIUM := /usr/bin/chromium
PORT ?= 8000

.PHONY: install lint test demo web chromium bench bench-quick fidelity cpu-agreement export-bench index-bench neighbors-bench recall-bench scale-bench python-api-bench ray-bench golden parity screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[export,ray,dev]'
	touch $(STAMP)

install: $(STAMP) $(WEB_STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

# The static web app (web/dist), which `medmir site` packs with a bundle and the INT8 models.
web: $(WEB_STAMP)
	npm --prefix web run -s build

# Debian's Chromium for the browser tests (never a downloaded browser), and qemu-user, whose `qemu-x86_64 -cpu Haswell`
# runs the INT8 models on an emulated AVX2 CPU without VNNI (tests/test_cpu_independence.py).
chromium:
	@test -x $(CHROMIUM) && command -v qemu-x86_64 >/dev/null || (apt-get update && apt-get install -y chromium qemu-user)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/check_structure.py
	cd web && npm run -s lint

test: lint web chromium
	cd web && npx vitest run
	$(BIN)/pytest
	$(MAKE) bench-quick

# The benchmark harness (benchmarks/run.py): full run -> benchmarks/results/<date>-<machine>.json + docs tables;
# the quick run only keeps the harness working (tiny model, few repeats, no timing asserted).
bench: install web chromium
	mkdir -p build
	$(BIN)/python benchmarks/run.py
	$(MAKE) neighbors-bench
	$(MAKE) recall-bench
	$(MAKE) scale-bench
	$(MAKE) python-api-bench
	$(MAKE) ray-bench
	$(BIN)/python benchmarks/performance_doc.py

bench-quick: install web chromium
	mkdir -p build
	$(BIN)/python benchmarks/run.py --quick

# The main job: NIH images + labels + a model pack -> bundle + site in build/demo, served on 127.0.0.1:$(PORT).
# MEDMIR_DATA: a folder with NIH images and the label CSV (default: the shared 400-image sample, when present).
# MEDMIR_MODEL: a model pack folder, or random-biomedclip (default) for an offline random-weight pack.
MEDMIR_DATA ?= $(wildcard $(SHARED)/data/nih-sample)
MEDMIR_MODEL ?= random-biomedclip
demo: install web
	MEDMIR_DATA="$(MEDMIR_DATA)" MEDMIR_MODEL="$(MEDMIR_MODEL)" $(BIN)/medmir build --out build/demo \
		--model-config $(BIOMEDCLIP_CONFIG)
	$(BIN)/medmir verify build/demo/bundle
	$(BIN)/medmir serve build/demo/site --port $(PORT)

# INT8 fidelity on real weights -> benchmarks/results/int8_fidelity.json + docs/QUANTIZATION.md
fidelity: install
	$(BIN)/python benchmarks/int8_fidelity.py

# INT8 formats across CPUs (native, emulated AVX2 without VNNI, WASM) -> benchmarks/results/cpu_agreement.json + docs
cpu-agreement: install chromium
	$(BIN)/python benchmarks/cpu_agreement.py

# Full-size pack sizes, export time, parity -> benchmarks/results/export_full.json + docs/QUANTIZATION.md
export-bench: install
	mkdir -p build
	$(BIN)/python benchmarks/export_full.py

# Index build rate (FP32 / INT8 vision vs decode-only) -> benchmarks/results/index_cpu.json + docs/PERFORMANCE.md
index-bench: install
	mkdir -p build
	$(BIN)/python benchmarks/index_cpu.py N=$(or $(N),100)

# k-NN neighbours, exact vs `medmir index`'s (faiss IVF), on MiniLM clinical phrases, the NIH sample and random
# vectors at 112,120 and 500,000 rows -> benchmarks/results/neighbors.json + docs/PERFORMANCE.md. The first run embeds
# 500,000 phrases with MiniLM (cached in build/corpus/); the whole run takes about an hour on 2 cores.
neighbors-bench: install
	mkdir -p build
	$(BIN)/python benchmarks/neighbors.py

# Recall@10 of the compact rows (int8 centred as bundle format 2 stores them, int8 uncentred, sign codes, sign codes
# re-ranked with int8) against exact float32, on MiniLM clinical phrases, the NIH sample and random vectors at 112,120
# and 500,000 rows -> benchmarks/results/recall.json + docs/PERFORMANCE.md. MiniLM embeddings come from build/corpus/
# (filled by neighbors-bench; else embedded first, about an hour on 2 cores); the rest takes minutes.
recall-bench: install
	mkdir -p build
	$(BIN)/python benchmarks/recall.py

# The full NIH collection in the browser: bundle format 1 against 2 at 112,120 rows (same MiniLM embeddings) and format
# 2 at 500,000, each site visited twice in headless Chromium (bytes at the server, first live result, embedding and
# ranking times, recall@10, renderer memory) -> benchmarks/results/scale.json + docs/PERFORMANCE.md. Bundles and sites
# go to build/scale/ (reused while their inputs match); the first run writes the bundles (tens of minutes on 2 cores).
scale-bench: install web chromium
	mkdir -p build
	$(BIN)/python benchmarks/scale.py

# `medmir index` on Ray (1 and 2 workers) vs the local engine on N NIH images, and the Ray merge at 112,120 synthetic
# rows -> benchmarks/results/index_ray.json + docs/PERFORMANCE.md
ray-bench: install
	mkdir -p build
	$(BIN)/python benchmarks/index_ray.py N=$(or $(N),100)

# `medmir search` from the command line at 112,120 and 500,000 rows: one query and a 1,000-query batch, each text
# runtime, against the command before the Python API (a git worktree of a42d695) -> benchmarks/results/python_api.json
# + docs/PERFORMANCE.md. Reuses scale-bench's bundles (build/scale/bundles); about 10 minutes.
python-api-bench: install web
	mkdir -p build
	$(BIN)/python benchmarks/python_api.py

# Screenshots of the main pages for the README (runs the browser end-to-end test)
screenshots: install web chromium
	MEDMIR_SCREENSHOTS=1 $(BIN)/pytest tests/test_e2e.py

# Regenerate the golden tokenizer fixture from the reference (open_clip HFTokenizer)
golden: install
	$(BIN)/python scripts/make_tokenizer_golden.py

# Regenerate the parity tables tests/fixtures/parity/*.json from the Python reference (tests/parity_reference.py)
parity: install
	$(BIN)/python scripts/make_parity_tables.py

clean:
	rm -rf build .pytest_cache .ruff_cache
