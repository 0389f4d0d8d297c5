# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.geoattr-installed

.PHONY: demo test install bench clean regenerate docs

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@# optional: CHOLMOD for large exact ML fits; without SuiteSparse's headers the real LU is used
	$(PY) -m pip install --quiet -e ".[cholmod]" 2>/dev/null || echo "note: scikit-sparse (CHOLMOD) not built (needs libsuitesparse-dev); large ML fits use the real sparse LU"
	touch $(STAMP)

install: $(STAMP)

# Byte-compiled once here: where PYTHONDONTWRITEBYTECODE is set, Python would compile geoattr's
# modules again on every start (about 0.5 s of the demo's imports on a 2-core machine).
demo: $(STAMP)
	$(PY) -m compileall -q geoattr
	$(VENV)/bin/geoattr demo --out demo_output

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

# The notebooks of the gallery are executed (and cached in docs/_build/.jupyter_cache);
# GEOATTR_DOCS_EXECUTE=off make docs renders them without outputs, as tests/test_docs.py does.
GEOATTR_DOCS_EXECUTE ?= cache
docs: $(STAMP)
	GEOATTR_DOCS_EXECUTE=$(GEOATTR_DOCS_EXECUTE) $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "Documentation: docs/_build/html/index.html"

regenerate: $(STAMP)
	$(PY) -m geoattr.datasets.synthetic

clean:
	rm -rf $(VENV) demo_output .pytest_cache build *.egg-info docs/_build docs/generated docs/notebooks
