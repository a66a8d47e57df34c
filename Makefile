# Two commands do everything: `make run` and `make test`. Both (re)build .venv when requirements change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQS := requirements.txt requirements-dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQS) | sha256sum | cut -c1-16)
PORT ?= 8501

.PHONY: run test bench postgis clean

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench $(BENCH)

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache

# A local PostgreSQL + PostGIS cluster in .postgis/ with the world places loaded; prints the DSN.
postgis: $(STAMP)
	$(PY) -m scripts.postgis_cluster start --load-world
