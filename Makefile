# The project's commands. `make run` and `make test` are the two a newcomer needs; both set
# up what they use on a fresh machine (Rust comes with the machine; Python tools go into a
# local virtualenv, .venv, from PyPI).

CARGO   ?= cargo
VENV    := .venv
PYTHON  ?= python3
AWSCLI_VERSION := 1.46.3

.PHONY: run test check unit lint fmt build clean-venv

## run: the local lifecycle demo: Create -> Update -> Delete through the real Lambda binary
run:
	$(CARGO) build --workspace --bins
	$(CARGO) run --quiet -p standin --bin cfn-standin -- demo --lambda target/debug/cfn-eks-pod-identity --events events

## test: every check: formatting, clippy, unit, end-to-end and AWS CLI wire-format tests
test: $(VENV)/.installed
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	AWS_CLI="$(CURDIR)/$(VENV)/bin/aws" $(CARGO) test --workspace

## fmt: format the code
fmt:
	$(CARGO) fmt --all

$(VENV)/.installed:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check awscli==$(AWSCLI_VERSION)
	touch $@

clean-venv:
	rm -rf $(VENV)
