# Two commands do everything: `make submit` and `make test`. Each installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
COMP   ?= digits

# Optional pass-through knobs for `make submit`: MODEL, FOLDS, EPOCHS, SEED, UPLOAD=1, MESSAGE;
# for `make compare`: MODELS="a b c", FOLDS, EPOCHS, SEED, BUDGET (e.g. 2h).
RUN_ARGS    := $(if $(FOLDS),--folds $(FOLDS)) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(SEED),--seed $(SEED))
SUBMIT_ARGS := $(if $(MODEL),--model $(MODEL)) $(RUN_ARGS) \
               $(if $(UPLOAD),--upload) $(if $(MESSAGE),--message "$(MESSAGE)")
comma := ,
empty :=
space := $(empty) $(empty)
MODELS_ARG  := $(if $(MODELS),--models $(subst $(space),$(comma),$(strip $(MODELS))))  # "a b" or a,b
COMPARE_ARGS := $(strip $(MODELS_ARG) \
                $(RUN_ARGS) $(if $(BUDGET),--time-budget $(BUDGET)))

# QUIET=1: no progress bars, notes or echoed commands; only errors and each command's final summary.
QUIET_ARG := $(if $(QUIET),--quiet)
ifneq ($(QUIET),)
.SILENT:
endif

.PHONY: install submit compare report models test leaderboard bench clean

install: $(VENV)/.installed

# Re-installs only when pyproject.toml changes. The extras are what the tests need: `dev`, and `ray` for
# tests/test_distributed.py (skipped where Ray is absent); `pip install -e .` alone installs neither.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,ray]'
	touch $@

submit: install
	$(PY) -m harness submit $(COMP) $(SUBMIT_ARGS) $(QUIET_ARG)

compare: install
	$(PY) -m harness compare $(COMP) $(COMPARE_ARGS) $(QUIET_ARG)

report: install
	$(PY) -m harness report $(COMP) $(QUIET_ARG)

models: install
	$(PY) -m harness models

test: install
	$(PY) -m pytest -q

leaderboard: install
	$(PY) -m harness leaderboard $(COMP) $(QUIET_ARG)

# `make bench` (about 10 minutes on 2 cores) writes bench/results.json; QUICK=1 or IMAGES=N shrink it.
# `make bench GPU=1` measures every registry model on the accelerator and writes bench/gpu.json (MODELS="a b").
bench: install
	$(PY) -m benchmarks $(if $(GPU),--gpu) $(if $(QUICK),--quick) $(if $(IMAGES),--images $(IMAGES)) \
		$(MODELS_ARG)

clean:
	rm -rf $(VENV) data runs bench .pytest_cache leaderboard.sqlite* submissions/*/
