# Two entry points: `make book` (the main job) and `make test`. Both create and use .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export POSE_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)

.PHONY: book test setup clean

setup: $(VENV)/.installed

# torch==2.13.0 first: the CPU build; the package's own torch range then installs nothing more.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 > /dev/null
	touch $@

book: setup
	$(PY) book/build.py

test: setup
	$(PY) -m pytest -n 2 --dist loadfile tests notebooks --nbval --nbval-sanitize-with book/nbval_sanitize.cfg

clean:
	rm -rf _build book/chapters .pytest_cache
