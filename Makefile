# Entry points: `make .venv` (environment only), `make test`, `make run`.
PYTHON_VERSION ?= 3.10.13
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
BASE_PYTHON ?= $(PYENV_ROOT)/versions/$(PYTHON_VERSION)/bin/python
VENV := .venv
UV := $(VENV)/bin/uv
PY := $(VENV)/bin/python
WORK_DIR ?= out
KEY_FILE ?= .privrec/pseudonym.key
PYTEST_ARGS ?=

.PHONY: run test test-heavy lock clean minilm-reference

# The environment: Python 3.10 from pyenv, then the locked set, installed with uv (no resolution).
$(VENV): requirements.lock requirements-nodeps.txt pyproject.toml
	@test -x "$(BASE_PYTHON)" || { echo "Python $(PYTHON_VERSION) not found at $(BASE_PYTHON): install it with 'pyenv install $(PYTHON_VERSION)'"; exit 1; }
	rm -rf $(VENV)
	"$(BASE_PYTHON)" -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(UV) pip sync --compile-bytecode --python $(PY) requirements.lock
	$(UV) pip install --compile-bytecode --python $(PY) --no-deps --require-hashes -r requirements-nodeps.txt
	$(UV) pip install --python $(PY) --no-deps -e .
	touch $(VENV)

$(KEY_FILE): | $(VENV)
	$(VENV)/bin/privrec keygen $(KEY_FILE)

run: $(VENV) $(KEY_FILE)
	PRIVREC_PSEUDONYM_KEY_FILE=$(abspath $(KEY_FILE)) $(VENV)/bin/privrec run --work-dir $(WORK_DIR)

test: $(VENV)
	$(PY) -m pytest $(PYTEST_ARGS)

test-heavy: $(VENV)
	$(PY) -m pytest -m heavy $(PYTEST_ARGS)

# Regenerate the lock after editing requirements.in (needs network access to PyPI).
# The MiniLM reference embeddings (tests/fixtures/minilm_reference.json) from sentence-transformers
# on PyTorch, in a separate Python 3.11 venv: PyTorch never enters privrec's environment.
REFERENCE_PYTHON ?= $(PYENV_ROOT)/versions/3.11.7/bin/python
minilm-reference:
	rm -rf .venv-reference
	"$(REFERENCE_PYTHON)" -m venv .venv-reference
	.venv-reference/bin/pip install --quiet --disable-pip-version-check torch==2.13.0
	.venv-reference/bin/pip install --quiet --disable-pip-version-check sentence-transformers==6.0.1
	.venv-reference/bin/pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-nodeps.txt
	.venv-reference/bin/python tests/fixtures/make_minilm_reference.py

lock: $(VENV)
	$(UV) pip compile --python-version 3.10 --python-platform x86_64-unknown-linux-gnu \
		--no-header requirements.in -o requirements.lock

clean:
	rm -rf $(WORK_DIR) .pytest_cache
