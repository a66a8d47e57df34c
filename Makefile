# Two commands do everything: `make run` and `make test`. Both (re)build .venv when requirements change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQS := requirements.txt requirements-dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQS) | sha256sum | cut -c1-16)
PORT ?= 8501

.PHONY: run test bench fuzz postgis clean serve system-packages

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(PY) -m scripts.serve --replicas 1 --port $(PORT) --address 0.0.0.0

# The Debian packages the browser, PostGIS and nginx tests need, installed when missing.
system-packages:
	@scripts/system_packages.sh

test: $(STAMP) system-packages
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench $(BENCH)

# Coverage-guided fuzzing of every reader of a visitor's bytes, FUZZ_SECONDS per target (CI runs a short one).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= images map-csv knn-csv geojson geojson-structure weights
fuzz: $(STAMP)
	@mkdir -p test-artifacts/fuzz
	@for t in $(FUZZ_TARGETS); do echo "fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  if $(PY) -m fuzz $$t $(FUZZ_SECONDS) >test-artifacts/fuzz/$$t.log 2>&1; then grep -E '^Done' test-artifacts/fuzz/$$t.log; \
	  else grep -v '^INFO: Instrumenting' test-artifacts/fuzz/$$t.log | tail -40; exit 1; fi; done

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache

# A local PostgreSQL + PostGIS cluster in .postgis/ with the world places loaded; prints the DSN.
postgis: $(STAMP)
	$(PY) -m scripts.postgis_cluster start --load-world

# REPLICAS copies of the app behind nginx on 127.0.0.1:$(PORT) (sticky sessions, websocket, shared cookie secret),
# each warmed at start; POSTGIS=1 also starts the local PostGIS and hands every replica its GEO_DSN.
REPLICAS ?= 2
serve: $(STAMP)
	$(PY) -m scripts.serve --replicas $(REPLICAS) --port $(PORT) $(if $(POSTGIS),--postgis)
