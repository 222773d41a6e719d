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

# Re-installs only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

submit: install
	$(PY) -m harness submit $(COMP) $(SUBMIT_ARGS)

test: install
	$(PY) -m pytest -q

leaderboard: install
	$(PY) -m harness leaderboard $(COMP)

# `make bench` (about 10 minutes on 2 cores) writes bench/results.json; QUICK=1 or IMAGES=N shrink it.
# `make bench GPU=1` measures every registry model on the accelerator and writes bench/gpu.json (MODELS=a,b).
bench: install
	$(PY) -m benchmarks $(if $(GPU),--gpu) $(if $(QUICK),--quick) $(if $(IMAGES),--images $(IMAGES)) \
		$(if $(MODELS),--models $(MODELS))

clean:
	rm -rf $(VENV) data runs bench .pytest_cache leaderboard.sqlite* submissions/*/
