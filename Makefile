# One command each: `make run` sets up and runs the product, `make test` sets up and tests.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
# uv's folder on PATH: `bentoml build` calls `uv` (and tries to pip-install it without).
export PATH := $(dir $(UV)):$(PATH)
# `install` has synced the environment; `uv run` would check (and recompile) it again.
RUN := $(UV) run --no-sync
# Compile the packages' bytecode once at install: with PYTHONDONTWRITEBYTECODE set (as
# here and in many CI images) every process would otherwise compile what it imports,
# about 10 s for each `juice` command and each server worker.
export UV_COMPILE_BYTECODE := 1
export BENTOML_DO_NOT_TRACK := true
export GRADIO_ANALYTICS_ENABLED := False
export PREFECT_SERVER_ANALYTICS_ENABLED := false

# Debian packages: the browser the app's tests drive; the Pushgateway drift checks push to;
# Prometheus (with promtool) and Alertmanager (with amtool), which alert on them. Under
# systemd these packages also start Debian's own services on 9090/9091/9093: stop those
# (systemctl disable --now ...) or move ours (JUICE_*_PORT).
SYSTEM_PACKAGES := chromium prometheus-pushgateway prometheus prometheus-alertmanager
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install system run bento images test lint format bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet --user --break-system-packages uv

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced  ## install Python 3.11 packages from uv.lock

system:  ## install the Debian packages the product and its tests need (once)
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: install system  ## set up, then run the whole stack: a first champion if none, then every service (Ctrl+C stops)
	$(RUN) juice up

bento: install  ## build a bento carrying the current champion (`make images` containerizes it)
	$(RUN) juice bento

images: install  ## podman set up, then every image: our bases, the services, the app, the bento's (the current champion)
	$(SUDO) env PATH="$$PATH" deployments/containers/make-images.sh

# The container tests first, in one process: their images build and their stack trains,
# CPU-bound work that would starve the other end-to-end modules' servers on 2 cores. Then
# everything else on two workers (pytest-xdist: most of it waits for servers).
test: install system lint  ## lint, then run the whole test suite (the containers' first)
	$(RUN) pytest -m containers -n 0
	$(RUN) pytest -m "not containers"

lint: install  ## ruff (rules and formatting), mypy on juice/ and ui/, the import layers
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: install  ## benchmarks (print figures; several minutes)
	command -v wrk >/dev/null && command -v haproxy >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk haproxy)
	$(RUN) python benchmarks/etl.py
	$(RUN) python benchmarks/training.py
	$(RUN) python benchmarks/serving.py
	$(RUN) python benchmarks/overload.py
	$(RUN) python benchmarks/drift.py
	$(RUN) python benchmarks/soak.py
	$(RUN) python benchmarks/limits.py
	$(RUN) python benchmarks/first_prediction.py
	$(RUN) python benchmarks/replicas.py

clean:  ## remove the workspace state (keeps landed exports' DVC remote)
	rm -rf .juice .prefect data/dataset data/quarantine data/reports data/build-dataset.json
