# Gongkai build and test entry points. On a fresh Debian 12 machine (as root, or with
# sudo) two commands do everything:
#
#   make site   create .venv, install requirements.txt, build the site into _site/
#   make test   make site + test tools (apt, npm, requirements-dev.txt), then pytest
#
# Set-up steps leave stamp files (.venv/.stamp*, node_modules/.stamp) that depend on
# the requirement files, so a second run only builds and tests. System packages are
# checked on every run (a few `command -v`/`dpkg-query` calls) and installed only when
# missing, so nothing needs root once they are present.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := site
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.stamp
DEV_STAMP := $(VENV)/.stamp-dev
NODE_STAMP := node_modules/.stamp
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check --no-input --quiet --only-binary=:all:

# apt-get only runs when something is missing; then it needs root (or sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

.PHONY: site test serve check bench clean distclean venv test-deps system-deps

## site: build the site into _site/ (default target)
site: $(VENV_STAMP)
	$(PY) build.py build

## test: build, install the test tools, run every test under tests/
test: site test-deps
	$(PY) -m pytest

## serve: build, serve on 127.0.0.1 and rebuild on change
serve: $(VENV_STAMP)
	$(PY) build.py serve

## check: validate the content files
check: $(VENV_STAMP)
	$(PY) build.py check

## bench: run the benchmarks in bench/
bench: $(VENV_STAMP)
	$(PY) -m bench

## clean: remove build and test output (keeps .venv and node_modules)
clean:
	rm -rf _site _site.* test-output .pytest_cache .cache
	find . -name __pycache__ -type d -not -path './.venv/*' -not -path './node_modules/*' -prune -exec rm -rf {} +

## distclean: clean, and remove the installed tools too
distclean: clean
	rm -rf $(VENV) node_modules

venv: $(VENV_STAMP)

test-deps: system-deps $(DEV_STAMP) $(NODE_STAMP)

# Python with venv and pip. Debian splits venv/ensurepip into python3-venv.
$(VENV_STAMP): requirements.txt
	@if ! command -v $(PYTHON) >/dev/null || ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then \
	  echo "Installing python3-venv and python3-pip"; \
	  $(SUDO) apt-get update -q && $(APT_INSTALL) python3 python3-venv python3-pip; \
	fi
	@# A .venv left without a working pip (e.g. by a failed first run) is made again.
	@if ! $(PY) -m pip --version >/dev/null 2>&1; then \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); \
	fi
	$(PIP_INSTALL) -r requirements.txt
	@$(PY) -c 'import yaml; assert yaml.__with_libyaml__, "PyYAML was installed without libyaml"'
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(VENV_STAMP)
	$(PIP_INSTALL) -r requirements-dev.txt
	@touch $@

# Exactly what package-lock.json pins. --ignore-scripts: vnu-jar's install script
# would try to download a Java runtime; Debian's default-jre-headless is used instead.
$(NODE_STAMP): package.json package-lock.json | system-deps
	npm ci --ignore-scripts --no-audit --no-fund
	@test -f node_modules/axe-core/axe.min.js && test -f node_modules/vnu-jar/build/dist/vnu.jar
	@touch $@

# Chromium (the browser the tests drive), CJK fonts (else Chinese renders as boxes in
# screenshots), libatomic1 (Playwright's bundled driver needs it), a Java runtime for
# vnu.jar, Node/npm for the two npm packages, and LibreOffice Writer (tests/test_read.py
# converts .docx to PDF and .doc with it; `build.py import` reads .doc through it). A
# tool already on PATH is accepted whatever package provides it (e.g. NodeSource's
# nodejs, which ships npm).
# After the venv step, so that `make -j` never runs two apt-get at once.
system-deps: | $(VENV_STAMP)
	@missing=""; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	dpkg-query -W -f='$${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'ok installed' || missing="$$missing fonts-noto-cjk"; \
	dpkg-query -W -f='$${Status}' libatomic1 2>/dev/null | grep -q 'ok installed' || missing="$$missing libatomic1"; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v soffice >/dev/null || missing="$$missing libreoffice-writer-nogui"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  $(SUDO) apt-get update -q && $(APT_INSTALL) $$missing; \
	fi
