# Two entry points: `make book` (the main job) and `make test`. Both create and use .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export POSE_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)

.PHONY: book test setup lab clean

setup: $(VENV)/.installed

# torch==2.13.0 first: the CPU build; the package's own torch range then installs nothing more.
# The dev extras bring pytest and nbval, and JupyterLab and nbconvert for opening the chapters
# (.venv/bin/jupyter lab notebooks/); the kernel "python3" is this .venv's.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 > /dev/null
	touch $@

book: setup
	$(PY) book/build.py

# The chapters in JupyterLab, as the book shows them (profile None: the book's; POSE_DATA as above).
lab: setup
	$(VENV)/bin/jupyter lab notebooks/

test: setup
	$(PY) -m pytest -n 2 --dist loadfile tests notebooks --nbval --nbval-sanitize-with book/nbval_sanitize.cfg

clean:
	rm -rf _build book/chapters .pytest_cache
