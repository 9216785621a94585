# sat-companion — `make book` builds the book, `make test` runs the test suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PROFILE ?=
MODE   ?=
profile_flag := $(if $(PROFILE),--profile $(PROFILE))
mode_flag    := $(if $(filter cache_only,$(MODE)),--cache-only,$(if $(filter recompute,$(MODE)),--recompute))

.PHONY: install data browser test test-all book book-only bench clean

install: $(VENV)/.installed data

# pyproject.toml is the one list of dependencies (environment.yml installs the same for conda users).
# torchattacks is only a peer for tests and benchmarks: installed without its dependencies because it pins
# an old `requests`.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pip install -q --no-deps "torchattacks==3.5.1"
	touch $@

# Fashion-MNIST from Debian's dataset-fashion-mnist where apt exists and we may use it; otherwise the
# chapters that need it download it (data.download: true) or say where to put it.
data:
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian's dataset-fashion-mnist (Fashion-MNIST) with apt-get"; \
	    apt-get install -y -q dataset-fashion-mnist >/dev/null || \
	    (apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null) || \
	    echo "note: could not install dataset-fashion-mnist; see README (Data)"; \
	  else echo "note: run 'sudo apt-get install dataset-fashion-mnist' for Fashion-MNIST"; fi; fi

# Debian's Chromium for the offline browser check of the built book (tests/test_book.py runs
# tools/check_book_offline.py; it is skipped where no Chromium is installed). About a minute with apt.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian's chromium (offline browser check of the book) with apt-get"; \
	    apt-get install -y -q chromium >/dev/null || \
	    (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null) || \
	    echo "note: could not install chromium; the browser check of the book is skipped"; \
	  else echo "note: run 'sudo apt-get install chromium' for the browser check of the book"; fi; fi

test: install browser
	$(BIN)/python -m pytest -q -m "not slow"

test-all: install browser
	$(BIN)/python -m pytest -q

# Execute every chapter at the default profile (stored results are reused), then build the book.
book: install
	$(BIN)/sat-companion book $(profile_flag) $(mode_flag)

# Only render what was executed.
book-only: install
	$(BIN)/jupyter-book build book -W

bench: install
	$(BIN)/python benchmarks/bench_pgd.py
	$(BIN)/python benchmarks/bench_measures.py

clean:
	rm -rf book/_build
