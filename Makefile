# medsys: `make run` starts the suite on the embedded default, `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8080
SERVER_URL := http://127.0.0.1:$(PORT)

.PHONY: install run test lint typecheck pytest package clean bench

install: $(STAMP)

# Re-installs when pyproject.toml changes; otherwise a no-op.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	@$(BIN)/python -m server migrate
	@$(BIN)/python -m server seed-demo
	@$(BIN)/python -m server serve --port $(PORT) & server=$$!; \
	trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null' EXIT INT TERM; \
	if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(BIN)/python packaging/linux_libraries.py check && \
		$(BIN)/python -m desktop --server $(SERVER_URL); \
	else \
		echo "No display here, so the desktop client cannot open."; \
		echo "The server keeps serving at $(SERVER_URL) (Ctrl-C stops it)."; \
		wait $$server; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

pytest: install
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest

test: lint typecheck pytest

# Speed against the references (a naive server; Orthanc when installed, as root): prints one table.
bench: install
	$(BIN)/python -m bench.http

# The desktop console as dist/medsys-desktop_<version>_<arch>.deb (PyInstaller + dpkg-deb).
package: install
	$(BIN)/python packaging/build_deb.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info build dist
