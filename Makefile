# Cairn: `make run` sets up a fresh Debian machine and runs the demonstration;
# `make test` runs every test. Both install missing apt packages first.
# `make report` runs the small sweeps in Scenarios/sweeps/report-*.json (debug build, about
# half a minute on 2 cores) and draws build/report/report.html with scripts/report.py;
# `make venv` makes .venv-report/ (matplotlib from PyPI, pinned in
# scripts/requirements-report.txt). Other sweeps: REPORT_SWEEPS="a.json b.json"
# REPORT_CONFIG=release make report (docs/research/report.md).
# `make research` runs issue 12's research sweeps (Scenarios/research/research-*.json, release
# build, --jobs 2; about 12 minutes on 2 cores) into build/research/ and regenerates the tables,
# timings and charts of docs/research/shard-count.md and build/research/report.html
# (scripts/research.sh). RESEARCH_SKIP_RUNS=1 redoes only the tables and charts.
APT_PACKAGES := libsodium-dev liblmdb-dev libisal-dev libzstd-dev pkg-config
# For the test that puts a node behind NAT in a network namespace (root only; without
# them that test is disabled with its reason).
TEST_PACKAGES := iproute2 nftables
SWIFT ?= swift

# scripts/report.py's virtualenv and `make report`'s inputs.
PYTHON ?= python3
VENV := .venv-report
REPORT_DIR ?= build/report
REPORT_SEED ?= 1
REPORT_CONFIG ?= debug
REPORT_SWEEPS ?= $(sort $(wildcard Scenarios/sweeps/report-*.json))
RESEARCH_DIR ?= build/research
RESEARCH_SEED ?= 1
RESEARCH_JOBS ?= 2
RESEARCH_SWEEPS ?= $(sort $(wildcard Scenarios/research/research-*.json))

.PHONY: run demo-local test deps build release bench clean venv report research

deps:
	@bash scripts/install-deps.sh $(APT_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: release
	@bash scripts/demo-network.sh "$$($(SWIFT) build -c release --show-bin-path)/cairn"

demo-local: release
	@bash scripts/demo.sh "$$($(SWIFT) build -c release --show-bin-path)/cairn"

test: deps
	-@bash scripts/install-deps.sh $(TEST_PACKAGES)
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel

bench: deps
	@bash Benchmarks/backup.sh

venv: $(VENV)/.installed

$(VENV)/.installed: scripts/requirements-report.txt
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || bash scripts/install-deps.sh python3-venv
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-report.txt
	@touch $@

report: deps venv
	$(SWIFT) build -c $(REPORT_CONFIG) --product cairn
	@bash scripts/report.sh "$$($(SWIFT) build -c $(REPORT_CONFIG) --show-bin-path)/cairn" $(VENV)/bin/python \
		$(REPORT_DIR) $(REPORT_SEED) $(REPORT_SWEEPS)

research: deps venv
	$(SWIFT) build -c release --product cairn
	@bash scripts/research.sh "$$($(SWIFT) build -c release --show-bin-path)/cairn" $(VENV)/bin/python \
		$(RESEARCH_DIR) $(RESEARCH_SEED) $(RESEARCH_JOBS) $(RESEARCH_SWEEPS)

clean:
	rm -rf .build
