# Two commands on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# llama.cpp compiles from source; OFF keeps the wheel portable, and pip's wheel cache keeps it.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export HF_HUB_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install run test test-fast clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[local,dev]"
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/reversener annotate examples/tasks.json -o out/predictions.json

test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not local_llm"

clean:
	rm -rf $(VENV) out
