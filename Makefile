# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE_SITE ?= build/sample-site

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90

.PHONY: run test install install-dev sample-site bench clean server stop

$(BIN)/newsletter: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml $(BIN)/newsletter
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/newsletter

install-dev: $(VENV)/.dev-installed

# Build the bundled sample site with dates around today, serve it over HTTP on
# 127.0.0.1 (a free port) for the length of the run, then run the monthly
# pipeline on it. The server's PID goes to $(SAMPLE_PID); it is stopped by that
# PID when the run ends, failed or not. Ends by printing the draft's id.
SAMPLE_PID ?= build/sample-site.pid
SAMPLE_LOG ?= build/sample-site.log
run: install
	@mkdir -p $(dir $(SAMPLE_PID)) && rm -f $(SAMPLE_LOG)
	@$(BIN)/newsletter sample-site --out $(SAMPLE_SITE) --serve >$(SAMPLE_LOG) 2>&1 & echo $$! >$(SAMPLE_PID); \
	trap 'kill $$(cat $(SAMPLE_PID)) 2>/dev/null; rm -f $(SAMPLE_PID)' EXIT; \
	for i in $$(seq 100); do \
	  grep -q 'servi sur http' $(SAMPLE_LOG) 2>/dev/null && break; \
	  kill -0 $$(cat $(SAMPLE_PID)) 2>/dev/null || { cat $(SAMPLE_LOG) >&2; exit 1; }; \
	  sleep 0.2; \
	done; \
	grep 'servi sur http' $(SAMPLE_LOG) >&2 || { echo "sample site server did not start" >&2; exit 1; }; \
	$(BIN)/newsletter run --sources $(SAMPLE_SITE)/sources.yaml

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python benchmarks/collect.py
	$(BIN)/python benchmarks/curate.py
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/run.py

# Operations (deploy/server.sh): Prefect server on 127.0.0.1:$(PREFECT_PORT), work
# pool, deployments of prefect.yaml for $(NEWSLETTER_HOME), a worker, the review
# page; PIDs and logs in $(NEWSLETTER_HOME)/run/. `make stop` stops them by PID.
server: install
	NEWSLETTER_BIN=$(abspath $(BIN)) deploy/server.sh start

stop:
	deploy/server.sh stop

clean:
	rm -rf $(VENV) build .pytest_cache
