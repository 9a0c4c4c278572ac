# medmir: `make demo` (install + build + serve the main job) and `make test` (install + every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.medmir-installed
SHARED ?= ../shared
BIOMEDCLIP_CONFIG := $(SHARED)/models/biomedclip
DEMO_CKPT := build/checkpoints/random-biomedclip
DEMO_PACK := build/packs/random-biomedclip

.PHONY: install lint test demo fidelity export-bench golden clean

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

# For now the main job is the model pack: a random-weight BiomedCLIP (real shapes) exported offline, or the
# real model when MEDMIR_MODEL_SOURCE names it (hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224).
demo: install
ifdef MEDMIR_MODEL_SOURCE
	$(BIN)/medmir model export --source "$(MEDMIR_MODEL_SOURCE)" --out build/packs/biomedclip
	$(BIN)/medmir model check build/packs/biomedclip
else
	@test -f $(DEMO_CKPT)/open_clip_pytorch_model.bin || \
		$(BIN)/medmir model init-random --config $(BIOMEDCLIP_CONFIG) --out $(DEMO_CKPT)
	@test -f $(DEMO_PACK)/manifest.json || $(BIN)/medmir model export --source $(DEMO_CKPT) --out $(DEMO_PACK)
	$(BIN)/medmir model check $(DEMO_PACK)
	@echo "model pack ready: $(DEMO_PACK) (random weights: results are meaningless)"
endif

# INT8 fidelity on real weights -> benchmarks/results/int8_fidelity.json + docs/QUANTIZATION.md
fidelity: install
	$(BIN)/python benchmarks/int8_fidelity.py

# Full-size pack sizes, export time, parity -> benchmarks/results/export_full.json + docs/QUANTIZATION.md
export-bench: install
	mkdir -p build
	$(BIN)/python benchmarks/export_full.py

# Regenerate the golden tokenizer fixture from the reference (open_clip HFTokenizer)
golden: install
	$(BIN)/python scripts/make_tokenizer_golden.py

clean:
	rm -rf build .pytest_cache .ruff_cache
