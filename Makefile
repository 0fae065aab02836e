# mmhier: the two commands of the README, and what they need.
#   make test   set up .venv (pinned stack + mmhier) and run the test suite
#   make demo   set up .venv and run the Fashion-MNIST hierarchical demo
# Both are safe to run twice: the environment is reused while the
# requirements and setup.py are unchanged.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmhier-installed
REQS := requirements/runtime.txt requirements/tests.txt \
	requirements/optional.txt setup.py
PYTEST_ARGS ?=
# The tests run in a shuffled order (pytest-randomly) whose seed is printed
# first, so that an order-dependent failure can be repeated with
# `make test TEST_SEED=N`.
TEST_SEED ?= $(shell $(PYTHON) -c 'import random; print(random.randrange(10**6))')

.PHONY: install test testdata demo data clean help

help:
	@echo 'make test   - install into $(VENV) and run the test suite'
	@echo 'make demo   - install into $(VENV) and run the Fashion-MNIST demo'
	@echo 'make clean  - remove $(VENV) and work_dirs/'

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/runtime.txt -r requirements/tests.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -c 'import mmhier; print("mmhier", mmhier.__version__, "installed in $(VENV)")'
	@touch $@

install: $(STAMP)

# Real data some tests read (Debian packages; installed when root, else those
# tests are skipped with the reason).
testdata:
	@bash tools/get_fashion_mnist.sh >/dev/null
	@test -f /usr/share/wordnet/data.noun || { [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base \
	  >/dev/null; } || echo 'wordnet-base is not installed: the WordNet tree test will be skipped'

test: install testdata
	@echo 'test order: pytest-randomly seed $(TEST_SEED) (make test TEST_SEED=$(TEST_SEED) repeats it)'
	$(PY) -m pytest tests -p randomly --randomly-seed=$(TEST_SEED) $(PYTEST_ARGS)

data:
	@bash tools/get_fashion_mnist.sh

demo: install data
	$(PY) tools/demo.py

clean:
	rm -rf $(VENV) work_dirs
