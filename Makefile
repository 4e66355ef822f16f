# FedSim — make setup | build | run | test | validate | bench | clean
# Every target that needs the Debian packages calls `setup` first; `setup` is quiet when all are present.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# python3-jsonschema: test-only (checks Scenarios/ against Scenarios/schema.json and Reports/ against docs/schemas/);
# FedSim never runs Python.
# fortunes*: real text in English, German, Spanish, Italian, Russian, Polish and Czech for the
# transformer language model (docs/LEARNING.md).
CORPORA := fortunes fortunes-min fortunes-de fortunes-es fortunes-it fortunes-ru fortunes-pl fortunes-cs
DEBIAN_PACKAGES := libgsl-dev libopenblas-dev liblapacke-dev zlib1g-dev dataset-fashion-mnist gnuplot-nox python3-jsonschema openmpi-bin $(CORPORA)
SWIFT ?= swift
VENV := .build/bench-venv
PYTHON ?= python3
FEDSIM := .build/release/fedsim

.PHONY: setup build run test validate validate-ns3 bench bench-venv bench-packages peft-example peft-venv peft-packages clean

# $(call apt_install,TARGET,PACKAGES): apt-get the PACKAGES that are not installed (quiet when all are).
define apt_install
	@missing=""; \
	for p in $(2); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make $(1): installing$$missing" >&2; \
	  sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
	  $$sudo apt-get update -qq >/dev/null; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

setup:
	$(call apt_install,setup,$(DEBIAN_PACKAGES))

build: setup
	@$(SWIFT) build -c release --product fedsim 2>&1 | { grep -Ev '^(\[|Building|Compiling|Write|Emitting|Planning|Linking)' || true; }

# The default scenario (real training, Llama 2 7B payload): every arm, written to Reports/<name>/
# with its report. `make run RUN_SCENARIO=Scenarios/web-mix-llama7b.json` runs the time-only example.
RUN_SCENARIO ?= Scenarios/default.json
RUN_OUT ?= Reports/$(basename $(notdir $(RUN_SCENARIO)))
run: build
	@time $(FEDSIM) run $(RUN_SCENARIO) --out $(RUN_OUT) --force

test: setup
	@$(SWIFT) build --build-tests 2>&1 | { grep -Ev '^(\[|Building|Compiling|Write|Emitting|Planning|Linking)' || true; }
	@status=0; $(SWIFT) test --skip-build > .build/test.log 2>&1 || status=$$?; \
	grep -E "error:|failed|Executed [0-9]+ tests" .build/test.log | grep -v "0 failures" | tail -n 40 || true; \
	grep -E "Executed [0-9]+ tests" .build/test.log | tail -n 1; \
	[ $$status -eq 0 ] && echo "make test: all tests passed (log: .build/test.log)" || { echo "make test: FAILED (log: .build/test.log)"; exit $$status; }
	@.build/debug/fedsim schema | cmp -s - Scenarios/schema.json || { echo "make test: Scenarios/schema.json differs from 'fedsim schema' (regenerate: .build/debug/fedsim schema > Scenarios/schema.json)"; exit 1; }
	@$(PYTHON) Tests/Scenarios/check_schema.py . >.build/schema.log 2>&1 || { cat .build/schema.log; echo "make test: scenario schema check FAILED"; exit 1; }
	@echo "make test: Scenarios/schema.json is what 'fedsim schema' emits, and every scenario in Scenarios/ matches it"
	@$(PYTHON) Tests/Scenarios/check_outputs.py . || { echo "make test: output check against docs/schemas/ and docs/OUTPUTS.md FAILED"; exit 1; }
	@$(PYTHON) Tests/Scenarios/check_trainer_protocol.py . .build/debug/fedsim .build/trainer-protocol || { echo "make test: external-trainer protocol check FAILED"; exit 1; }
	@$(MAKE) --no-print-directory fuzz-short

# The checks of docs/VALIDATION.md: the fluid model against hand-computed rounds, the shared link
# against a brute-force reference, the tcp model against ns-3 (results committed in Validation/ns3;
# `make validate-ns3` re-runs ns-3, installing it first).
validate: setup
	@$(SWIFT) build -c release --product fedsim-validate 2>&1 | { grep -Ev '^(\[|Building|Compiling|Write|Emitting|Planning|Linking)' || true; }
	@.build/release/fedsim-validate analytic maxmin ns3

validate-ns3:
	@Validation/ns3/run.sh
	@$(MAKE) --no-print-directory validate

# The bench's peers live in a virtualenv on Debian's python3 that also sees its system packages:
# PyTorch from Debian (python3-torch, installed here and not by `setup`: `make test` does not need it),
# SimPy and numpy from PyPI (numpy < 2: Debian's torch 1.13 is built against numpy 1.x). Used by the
# bench only, never by FedSim. The stamp names the choice, so changing it rebuilds the venv.
BENCH_DEBIAN_PACKAGES := python3-venv python3-torch
BENCH_PYTHON := /usr/bin/python3
BENCH_PIP := simpy==4.1.2 numpy==1.26.4
BENCH_STAMP := $(VENV)/.installed-debian-torch-$(subst ==,-,$(subst $() ,+,$(BENCH_PIP)))
bench-venv: setup bench-packages $(BENCH_STAMP)
bench-packages:
	$(call apt_install,bench-venv,$(BENCH_DEBIAN_PACKAGES))
$(BENCH_STAMP): | bench-packages
	@rm -rf $(VENV)
	@$(BENCH_PYTHON) -m venv --system-site-packages $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check $(BENCH_PIP)
	@$(VENV)/bin/python -c "import numpy, simpy, torch" || { echo "make bench-venv: the venv's python cannot import numpy, simpy and torch"; exit 1; }
	@touch $@

bench: setup bench-venv
	@$(SWIFT) build -c release --product fedsim-bench 2>&1 | { grep -Ev '^(\[|Building|Compiling|Write|Emitting|Planning|Linking)' || true; }
	@$(SWIFT) build -c release --product fedsim 2>&1 | { grep -Ev '^(\[|Building|Compiling|Write|Emitting|Planning|Linking)' || true; }
	.build/release/fedsim-bench --python $(VENV)/bin/python --peers Tests/Peers $(BENCH_ARGS)

# The PEFT example (examples/peft/README.md; not part of `make test`): fedsim runs a PyTorch +
# Hugging Face PEFT trainer per client call (workload.train.external) on a tiny Llama model that
# make_tiny_model.py writes offline. Its virtualenv is on Debian's python3 and sees its torch
# (python3-torch 1.13, installed here like the bench's). Debian's torch calls itself 1.13.0a0, a
# pre-release that pip does not count as peft's and accelerate's "torch>=1.13", so pip would fetch
# a CUDA torch of gigabytes from PyPI: they are installed without their dependencies (PEFT_NO_DEPS;
# PEFT_EXTRA_DEPS are theirs that transformers does not bring), everything else normally, all
# within constraints-debian-torch.txt. The stamp follows the two files, so editing them rebuilds it.
PEFT_DIR := examples/peft
PEFT_VENV := $(PEFT_DIR)/.venv
PEFT_MODEL := $(PEFT_DIR)/tiny-model/config.json
PEFT_NO_DEPS := peft accelerate
PEFT_EXTRA_DEPS := psutil pyyaml
PEFT_STAMP := $(PEFT_VENV)/.installed-debian-torch
PEFT_PIP := $(PEFT_VENV)/bin/pip install -q --disable-pip-version-check -c $(PEFT_DIR)/constraints-debian-torch.txt
PEFT_OUT ?= .build/peft-example
peft-venv: setup peft-packages $(PEFT_STAMP)
peft-packages:
	$(call apt_install,peft-venv,$(BENCH_DEBIAN_PACKAGES))
$(PEFT_STAMP): $(PEFT_DIR)/requirements.txt $(PEFT_DIR)/constraints-debian-torch.txt | peft-packages
	@echo "make peft-venv: creating $(PEFT_VENV) (Debian's torch, the rest from PyPI)" >&2
	@rm -rf $(PEFT_VENV)
	@$(BENCH_PYTHON) -m venv --system-site-packages $(PEFT_VENV)
	@$(PEFT_PIP) $$(grep -vE '^[[:space:]]*(#|$$)' $(PEFT_DIR)/requirements.txt | grep -vE '^($(subst $() ,|,$(PEFT_NO_DEPS)))([^a-zA-Z0-9_.-]|$$)') $(PEFT_EXTRA_DEPS)
	@$(PEFT_PIP) --no-deps $$(grep -E '^($(subst $() ,|,$(PEFT_NO_DEPS)))([^a-zA-Z0-9_.-]|$$)' $(PEFT_DIR)/requirements.txt) $(PEFT_NO_DEPS)
	@$(PEFT_VENV)/bin/python -c "import torch, transformers, peft, safetensors, tokenizers; assert transformers.utils.is_torch_available()" \
	  || { echo "make peft-venv: the venv's python cannot use torch, transformers and peft together"; exit 1; }
	@touch $@
$(PEFT_MODEL): $(PEFT_DIR)/make_tiny_model.py | $(PEFT_STAMP)
	@cd $(PEFT_DIR) && .venv/bin/python make_tiny_model.py --force --threads 1
peft-example: build peft-venv $(PEFT_MODEL)
	@time $(FEDSIM) run $(PEFT_DIR)/scenario.json --out $(PEFT_OUT) --force

# Fuzzing (docs/FUZZING.md): every input reader, seeded, in worker processes that may crash or hang.
# `make fuzz` runs 10,000 cases per target and saves crashers/hangers under Tests/Fixtures/fuzz/;
# `make fuzz-short` (500 per target, saved fixtures re-run first, nothing written) is the make test step.
.PHONY: fuzz fuzz-short
FUZZ_ARGS ?=
fuzz: setup
	@$(SWIFT) build -c release --product fedsim-fuzz 2>&1 | { grep -Ev '^(\[|Building|Compiling|Write|Emitting|Planning|Linking)' || true; }
	@time .build/release/fedsim-fuzz --cases 10000 --jobs 2 --time-limit 1800 $(FUZZ_ARGS)

fuzz-short: setup
	@$(SWIFT) build --product fedsim-fuzz 2>&1 | { grep -Ev '^(\[|Building|Compiling|Write|Emitting|Planning|Linking)' || true; }
	@.build/debug/fedsim-fuzz --cases 500 --jobs 2 --time-limit 100 --no-save $(FUZZ_ARGS)

clean:
	rm -rf .build
