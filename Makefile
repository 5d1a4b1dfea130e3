# Sangdam — the two documented commands are `make run` and `make test`; everything else is set-up.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export SANGDAM_HOME ?= $(CURDIR)/.sangdam
export PYTHON

.PHONY: run test setup

setup:
	@scripts/setup.sh

run: setup
	@scripts/run.sh

test: setup
	@scripts/test.sh
