# Two commands do everything: `make submit` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
COMP   ?= digits

# Optional pass-through knobs for `make submit`: MODEL, FOLDS, EPOCHS, SEED, UPLOAD=1, MESSAGE.
SUBMIT_ARGS := $(if $(MODEL),--model $(MODEL)) $(if $(FOLDS),--folds $(FOLDS)) \
               $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(SEED),--seed $(SEED)) \
               $(if $(UPLOAD),--upload) $(if $(MESSAGE),--message "$(MESSAGE)")

.PHONY: install submit test leaderboard bench clean

install: $(VENV)/.installed

# Re-installs only when pyproject.toml changes. The extras are what the tests need: `dev`, and `ray` for
# tests/test_distributed.py (skipped where Ray is absent); `pip install -e .` alone installs neither.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,ray]'
	touch $@

submit: install
	$(PY) -m harness submit $(COMP) $(SUBMIT_ARGS)

test: install
	$(PY) -m pytest -q

leaderboard: install
	$(PY) -m harness leaderboard $(COMP)

# `make bench` (about 10 minutes on 2 cores) writes bench/results.json; QUICK=1 or IMAGES=N shrink it.
bench: install
	$(PY) -m harness bench $(if $(QUICK),--quick) $(if $(IMAGES),--images $(IMAGES))

clean:
	rm -rf $(VENV) data runs bench .pytest_cache leaderboard.sqlite* submissions/*/
