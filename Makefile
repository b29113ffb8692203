# Oragami Composer — developer entry points. Quick start: `make demo`, then `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export DAGSTER_HOME ?= $(CURDIR)/var/dagster_home

.PHONY: install demo test bench dagster dashboard clean parity

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Seed a demo account, replay the last 252 bundled sessions (the daily job trades the last 2), backtest, print a summary.
demo: install
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/oragami demo

## Run the whole test suite (DuckDB and the local Postgres).
test: install
	$(BIN)/python -m pytest -q

## Ours vs Composer (gap, tolerance) for every Composer ground truth in tests/fixtures/composer (docs/parity.md).
parity: install
	$(BIN)/oragami parity

## Open the Dagster UI on the definitions in orchestration/definitions.py.
dagster: install
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

## Open the Streamlit dashboard on the warehouse.
dashboard: install
	$(BIN)/streamlit run dashboards/streamlit_app.py

clean:
	rm -rf $(VENV) var/*.duckdb var/dagster_home

## Benchmarks: per-symphony backtest time, reference/vectorised ratio, 1,600 one-session evaluations, and the
## whole daily job for 40 accounts × 40 symphonies against local fake Alpaca servers; then daily_trading for the demo
## warehouse launched as the schedule does (webserver → run queue → daemon → code server), multiprocess vs in-process.
bench: install
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_daily.py
	$(BIN)/python scripts/bench_scheduled.py
	$(BIN)/python scripts/bench_scheduled.py --fleet 40x40 --executors in_process
	$(BIN)/python scripts/bench_replay.py
	$(BIN)/python scripts/bench_research.py
