# medmir: `make demo` (install + build + serve the main job) and `make test` (install + every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.medmir-installed
SHARED ?= ../shared
BIOMEDCLIP_CONFIG := $(SHARED)/models/biomedclip

.PHONY: install lint test demo fidelity export-bench index-bench golden clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[export,dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

# The main job: NIH images + labels + a model pack -> a bundle in build/demo/bundle.
# MEDMIR_DATA: a folder with NIH images and the label CSV (default: the shared 400-image sample, when present).
# MEDMIR_MODEL: a model pack folder, or random-biomedclip (default) for an offline random-weight pack.
MEDMIR_DATA ?= $(wildcard $(SHARED)/data/nih-sample)
MEDMIR_MODEL ?= random-biomedclip
demo: install
	MEDMIR_DATA="$(MEDMIR_DATA)" MEDMIR_MODEL="$(MEDMIR_MODEL)" $(BIN)/medmir build --out build/demo \
		--model-config $(BIOMEDCLIP_CONFIG)
	$(BIN)/medmir verify build/demo/bundle

# INT8 fidelity on real weights -> benchmarks/results/int8_fidelity.json + docs/QUANTIZATION.md
fidelity: install
	$(BIN)/python benchmarks/int8_fidelity.py

# Full-size pack sizes, export time, parity -> benchmarks/results/export_full.json + docs/QUANTIZATION.md
export-bench: install
	mkdir -p build
	$(BIN)/python benchmarks/export_full.py

# Index build rate (FP32 / INT8 vision vs decode-only) -> benchmarks/results/index_cpu.json + docs/PERFORMANCE.md
index-bench: install
	mkdir -p build
	$(BIN)/python benchmarks/index_cpu.py N=$(or $(N),100)

# Regenerate the golden tokenizer fixture from the reference (open_clip HFTokenizer)
golden: install
	$(BIN)/python scripts/make_tokenizer_golden.py

clean:
	rm -rf build .pytest_cache .ruff_cache
