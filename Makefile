# Cairn: `make run` sets up a fresh Debian machine and runs the demonstration;
# `make test` runs every test. Both install missing apt packages first.
APT_PACKAGES := libsodium-dev liblmdb-dev libisal-dev libzstd-dev pkg-config
# For the test that puts a node behind NAT in a network namespace (root only; without
# them that test is disabled with its reason).
TEST_PACKAGES := iproute2 nftables
SWIFT ?= swift

.PHONY: run demo-local test deps build release bench clean

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

clean:
	rm -rf .build
