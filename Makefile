# The project's commands. `make run` and `make test` are the two a newcomer needs; both set
# up what they use on a fresh machine (Rust comes with the machine; Python tools go into a
# local virtualenv, .venv, from PyPI).

CARGO   ?= cargo
VENV    := .venv
PYTHON  ?= python3
AWSCLI_VERSION := 1.46.3
CFN_LINT_VERSION := 1.58.0
CARGO_LAMBDA_VERSION := 1.9.2
ZIG_VERSION := 0.17.1
CDK     := examples/cdk
# Where cargo puts its output (CARGO_TARGET_DIR when set, as cargo itself does).
TARGET  := $(abspath $(or $(CARGO_TARGET_DIR),target))

.PHONY: run test lint fmt build arm64-target fuzz soak bench bench-sdk bench-binaries bench-driver hot-text deploy clean-venv

## run: the local lifecycle demo: Create -> Update -> Delete through the real Lambda binary
run:
	$(CARGO) build --workspace --bins
	$(CARGO) run --quiet -p standin --bin cfn-standin -- demo --lambda $(TARGET)/debug/cfn-eks-pod-identity --events events

## test: every check: formatting, clippy, unit, end-to-end, AWS CLI wire format, template lint,
## and the same formatting and clippy checks of the fuzz target (fuzz/ is outside the workspace,
## so nothing else would notice a change it no longer compiles with, or warns about)
test: $(VENV)/.installed
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd fuzz && $(CARGO) fmt -- --check && $(CARGO) clippy --quiet --locked --bins -- -D warnings
	AWS_CLI="$(CURDIR)/$(VENV)/bin/aws" $(CARGO) test --workspace
	$(MAKE) lint

## lint: cfn-lint (zero errors, zero warnings) on the SAM template, every example template and
## the templates the CDK example synthesizes (which needs the arm64 bootstrap: `make build`)
lint: $(VENV)/.installed build $(CDK)/node_modules/.installed
	$(VENV)/bin/cfn-lint template.yaml examples/cloudformation/*.yaml examples/sam/*.yaml
	rm -rf $(CDK)/cdk.out
	cd $(CDK) && npx tsc && CDK_DISABLE_CLI_TELEMETRY=true npx cdk synth --no-notices --no-version-reporting --quiet \
		-c bootstrapDir=$(TARGET)/lambda/cfn-eks-pod-identity -c clusterName=example
	$(VENV)/bin/cfn-lint $(CDK)/cdk.out/*.template.json

$(CDK)/node_modules/.installed: $(CDK)/package-lock.json
	cd $(CDK) && npm ci --no-audit --no-fund
	touch $@

## build: the arm64 Lambda package, target/lambda/cfn-eks-pod-identity/bootstrap
build: $(VENV)/.build-tools arm64-target
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo-lambda lambda build --release --arm64 --bin cfn-eks-pod-identity
	@ls -l $(TARGET)/lambda/cfn-eks-pod-identity/bootstrap

## bench: the release function next to a floor (floor/: a bare lambda_runtime function that only
## PUTs its response), both run through the local Runtime API: cold start, warm latency of Create,
## Update and Delete, peak memory and its growth, arm64 bootstrap size. Prints the table and
## writes target/bench/report.json. Timings come from this machine's release binaries, the size
## from the function's arm64 bootstrap, built as deployed (`make build`). The x86 function and
## floor are built apart from the bench driver, so that the stand-in's dependency features (axum,
## a multi-threaded tokio) do not leak into the binaries being measured.
## The arm64 build, the x86 build and the driver's build run side by side, each in its own target
## directory (cargo locks one per build): the function's builds spend minutes on one core each
## (the AWS SDK crate, the fat-LTO link), and the driver fills the gaps. Only the arm64 build
## needs cargo-lambda and zig, so the others start while those install.
## `make bench BENCH_FLAGS=--tls` runs both over HTTPS to EKS and the bucket, as deployed (the
## figures in docs/performance.md say what that adds).
## The floor's own arm64 bootstrap is not built: no goal needs its size, and building it took
## about a minute of the ten `make bench` may take on a clean clone (add --floor-bootstrap PATH
## to the cfn-bench line to show it).
BENCH_TARGET = $(TARGET)/bench-x86
BENCH_DRIVER = $(TARGET)/bench-driver
bench:
	$(MAKE) --no-print-directory -j3 build bench-binaries bench-driver
	$(BENCH_DRIVER)/release/cfn-bench --function $(BENCH_TARGET)/release/cfn-eks-pod-identity --floor $(BENCH_TARGET)/release/bench-floor \
		--bootstrap $(TARGET)/lambda/cfn-eks-pod-identity/bootstrap \
		--out $(TARGET)/bench/report.json --label "$$(git describe --always --dirty 2>/dev/null)" $(BENCH_FLAGS)

## bench-sdk: how much of the function's cost any function on aws-sdk-eks pays. floor-sdk/ is
## the floor plus one signed EKS call per event (ListPodIdentityAssociations), through the
## function's own HTTP client and EKS configuration. It runs against the floor (what one SDK
## call costs), then the function against it (what the function costs beyond that call), with
## 300 cycles each: the cold starts are the point (docs/performance.md). The size
## row of both is the function's arm64 bootstrap, which cfn-bench requires (floor-sdk/ has none).
bench-sdk:
	$(MAKE) --no-print-directory -j3 build bench-binaries bench-driver
	CARGO_TARGET_DIR="$(BENCH_TARGET)" $(CARGO) build --release -p bench-floor-sdk --bins
	@echo "floor-sdk/ (as ours) against the floor:"
	$(BENCH_DRIVER)/release/cfn-bench --function $(BENCH_TARGET)/release/bench-floor-sdk --floor $(BENCH_TARGET)/release/bench-floor \
		--bootstrap $(TARGET)/lambda/cfn-eks-pod-identity/bootstrap --cycles 300 \
		--out $(TARGET)/bench/sdk-against-floor.json --label "$$(git describe --always --dirty 2>/dev/null)" $(BENCH_FLAGS)
	@echo "The function against floor-sdk/ (as the floor):"
	$(BENCH_DRIVER)/release/cfn-bench --function $(BENCH_TARGET)/release/cfn-eks-pod-identity --floor $(BENCH_TARGET)/release/bench-floor-sdk \
		--bootstrap $(TARGET)/lambda/cfn-eks-pod-identity/bootstrap --cycles 300 \
		--out $(TARGET)/bench/function-against-sdk.json --label "$$(git describe --always --dirty 2>/dev/null)" $(BENCH_FLAGS)

bench-binaries:
	CARGO_TARGET_DIR="$(BENCH_TARGET)" $(CARGO) build --release -p cfn-eks-pod-identity -p bench-floor --bins

bench-driver:
	CARGO_TARGET_DIR="$(BENCH_DRIVER)" $(CARGO) build --release -p standin --bin cfn-bench

## hot-text: remake link/hot-text.ld, the list of functions a cold start and its events run,
## which release builds place together at the front of the code (build.rs). Run it after a
## change to what an event runs, or to the dependencies, then `make bench` to compare. It
## profiles a release build that keeps its symbols under valgrind's callgrind (valgrind must
## be installed: `apt-get install valgrind`).
HOT_TARGET = $(TARGET)/hot-text
hot-text: bench-driver
	CARGO_TARGET_DIR="$(HOT_TARGET)" CARGO_PROFILE_RELEASE_STRIP=none $(CARGO) build --release -p cfn-eks-pod-identity --bin cfn-eks-pod-identity
	$(BENCH_DRIVER)/release/cfn-bench hot-text --function $(HOT_TARGET)/release/cfn-eks-pod-identity \
		--out link/hot-text.ld --label "$$(git describe --always --dirty 2>/dev/null)"

## fuzz: fuzz the event parser and property validation for FUZZ_SECONDS (cargo-fuzz, libFuzzer);
## seeds come from the real events in tests/fixtures and events/; a crash is saved under fuzz/artifacts/
FUZZ_SECONDS ?= 120
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	mkdir -p target/fuzz-corpus/event
	cp events/*.json tests/fixtures/cloudformation-events/* target/fuzz-corpus/event/
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run event ../target/fuzz-corpus/event -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536

## soak: the load test, large: SOAK_INSTANCES processes of the release function drive SOAK_STACKS
## stack lifecycles (7 events each), as many at a time, with 20% of EKS calls and response PUTs faulted;
## prints a report and fails unless every event was answered once and nothing was left.
## The functions' logs go to target/soak-lambda.log. (`make test` runs a small one: tests/load.rs.)
SOAK_INSTANCES ?= 300
SOAK_STACKS ?= 3000
soak:
	$(CARGO) build --release -p cfn-eks-pod-identity -p standin --bins
	$(TARGET)/release/cfn-standin soak --lambda $(TARGET)/release/cfn-eks-pod-identity \
		--instances $(SOAK_INSTANCES) --stacks $(SOAK_STACKS) --fault-rate 0.2 --log $(TARGET)/soak-lambda.log

## deploy: deploy template.yaml with the SAM CLI (needs AWS credentials; see README). `make build`
## first installs cargo-lambda, zig and the arm64 Rust target, which `sam build` runs; the SAM CLI's
## rust-cargolambda build method is a preview feature, hence --beta-features. The stack name is the
## one the README and the examples import the ServiceToken from. SAM's build runs cargo-lambda
## itself, and copies the bootstrap from target/lambda/ in this folder whatever CARGO_TARGET_DIR
## says, so it runs without it.
deploy: $(VENV)/.build-tools arm64-target
	env -u CARGO_TARGET_DIR PATH="$(CURDIR)/$(VENV)/bin:$$PATH" sam build --beta-features
	sam deploy --guided --stack-name cfn-eks-pod-identity --capabilities CAPABILITY_IAM

## fmt: format the code
fmt:
	$(CARGO) fmt --all

$(VENV)/bin/pip:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(VENV)/bin/pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check awscli==$(AWSCLI_VERSION) cfn-lint==$(CFN_LINT_VERSION)
	touch $@

## The Rust target cargo-lambda builds the arm64 bootstrap for.
arm64-target:
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

$(VENV)/.build-tools: $(VENV)/bin/pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check cargo-lambda==$(CARGO_LAMBDA_VERSION) ziglang==$(ZIG_VERSION)
	touch $@

clean-venv:
	rm -rf $(VENV)
