# Build and test tooling for the lowmem.hardening collection.
# `make help` lists the targets; CI runs `make test` through .ci/run.
#
# Everything lives inside the checkout: .venv/ and .venv-2.16/ hold the pinned
# tools, build/ the collection copy that ansible-test needs, the built tarball,
# its install location and a HOME used only by ansible-test. Of the user's
# home only pip's download cache is used. Debian packages come from bindep.txt.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.SUFFIXES:

# Debian's interpreter, not a pyenv shim on PATH: the venvs then come out the
# same here and on a plain Debian 12.
PYTHON := /usr/bin/python3
# Given to every ansible-test call. Without it ansible-test also tries each
# python3.X on PATH, and pyenv shims for versions that are not installed make
# its compile test fail.
TEST_PYTHON := 3.11

VENV := $(CURDIR)/.venv
VENV_OLDEST := $(CURDIR)/.venv-2.16
BUILD := $(CURDIR)/build
COLLECTION_COPY := $(BUILD)/ansible_collections/lowmem/hardening
JUNIT := $(COLLECTION_COPY)/tests/output/junit
# HOME for ansible-test alone: its sanity venvs and the pip bootstrap stand-in live there.
ANSIBLE_TEST_HOME := $(BUILD)/ansible-test-home
# ANSIBLE_HOME for ansible-lint, ansible-galaxy and ansible-doc, so they neither
# read nor write the user's ~/.ansible.
TOOLS_ANSIBLE_HOME := $(BUILD)/ansible-home
COLLECTIONS_PATH := $(BUILD)/collections

# What `make test` runs, in this order. A tests/make/*.mk file can append its
# own target (e.g. `TEST_TARGETS += molecule`); it then runs after these.
TEST_TARGETS := lint sanity units compat install-check
# SUITE=GLOB pairs of JUnit XML files that the closing summary counts. A suite
# added to TEST_TARGETS can write its JUnit XML under $(JUNIT) (fresh in every
# run) and append itself here, e.g. `SUMMARY_SUITES += molecule=$(JUNIT)/molecule-*.xml`.
SUMMARY_SUITES := sanity-2.19=$(JUNIT)/ansible-test-sanity-*.xml \
	units-2.19=$(JUNIT)/python$(TEST_PYTHON)-*-units.xml \
	units-2.16=$(JUNIT)/ansible-core-2.16-units.xml
# Collections that content outside the collection needs for ansible-lint's
# syntax check (Molecule's playbooks use containers.podman, for one): a
# tests/make/*.mk file appends their directory to LINT_COLLECTIONS_PATHS and
# the file or target that provides them to LINT_DEPENDS.
LINT_COLLECTIONS_PATHS :=
LINT_DEPENDS :=
-include $(wildcard tests/make/*.mk)

# The venv's tools first on PATH: ansible-test and ansible-lint call other tools by name.
export PATH := $(VENV)/bin:$(PATH)

space := $(subst ,, )
VENV_STAMP := $(VENV)/.installed
VENV_OLDEST_STAMP := $(VENV_OLDEST)/.installed
PIP_STAND_IN_STAMP := $(ANSIBLE_TEST_HOME)/.ansible/test/cache/.stand-in-installed

IN_COPY := cd $(COLLECTION_COPY) &&
ANSIBLE_TEST := $(IN_COPY) HOME=$(ANSIBLE_TEST_HOME) ansible-test
TOOLS_ENV := ANSIBLE_HOME=$(TOOLS_ANSIBLE_HOME) ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_PATH)

.PHONY: help
help:
	@echo 'make test            everything CI runs: $(TEST_TARGETS), then a summary'
	@echo 'make lint            ansible-lint --profile production --offline'
	@echo 'make sanity          ansible-test sanity --local --python $(TEST_PYTHON) --requirements'
	@echo 'make units           ansible-test units --local --python $(TEST_PYTHON) --requirements'
	@echo 'make compat          compat-vermin compat-units-2.16 compat-py36:'
	@echo '                       vermin -t=3.6- on plugins/, tests/unit under ansible-core 2.16,'
	@echo '                       byte-compile plugins/ with a real Python 3.6 when one exists (PYTHON36=...)'
	@echo 'make install-check   install the built tarball and run ansible-doc on every module'
	@echo 'make build           ansible-galaxy collection build into build/'
	@echo 'make install         build, then install into build/collections'
	@echo 'make venv            create .venv and .venv-2.16 with the pinned tools'
	@echo 'make system-packages install the missing Debian packages from bindep.txt'
	@echo 'make collection-copy fresh copy in build/ansible_collections/lowmem/hardening'
	@echo 'make lock            re-resolve tests/requirements*.txt into the lock files'
	@echo 'make clean           remove .venv, .venv-2.16 and build/'

.PHONY: test
test: $(TEST_TARGETS)
	@echo '== Summary (JUnit results of this run) =='
	@$(VENV)/bin/python tests/tools/junit_summary.py $(foreach suite,$(SUMMARY_SUITES),'$(suite)')

# ---- environment ---------------------------------------------------------

.PHONY: system-packages
system-packages:
	@tests/tools/ensure-system-packages.sh bindep.txt

.PHONY: venv
venv: $(VENV_STAMP) $(VENV_OLDEST_STAMP)

# A venv is rebuilt from scratch whenever its requirement files change.
$(VENV_STAMP): tests/requirements.txt tests/requirements-lock.txt | system-packages
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tests/requirements.txt -c tests/requirements-lock.txt
	touch $@

$(VENV_OLDEST_STAMP): tests/requirements-2.16.txt tests/requirements-2.16-lock.txt | system-packages
	rm -rf $(VENV_OLDEST)
	$(PYTHON) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tests/requirements-2.16.txt -c tests/requirements-2.16-lock.txt
	touch $@

# ansible-test bootstraps pip into its sanity venvs with a get-pip script it
# downloads from a host that is unreachable here; it uses a cached copy when
# there is one. Cache the stand-in under the name this ansible-test looks for.
$(PIP_STAND_IN_STAMP): tests/tools/get_pip_stand_in.py $(VENV_STAMP)
	@pip_version=$$($(VENV)/bin/python -c 'import types; \
		from ansible_test._internal.python_requirements import get_venv_packages; \
		print(get_venv_packages(types.SimpleNamespace(version="$(TEST_PYTHON)"))["pip"])'); \
	install -D -m 0644 tests/tools/get_pip_stand_in.py \
		"$(@D)/get_pip_$${pip_version//./_}.py"; \
	echo "Installed the pip bootstrap stand-in as $(@D)/get_pip_$${pip_version//./_}.py"
	@touch $@

# Re-resolve the pins from scratch. Run after editing tests/requirements*.txt.
.PHONY: lock
lock: | system-packages
	@for name in requirements requirements-2.16; do \
		scratch=$$(mktemp -d); \
		$(PYTHON) -m venv "$$scratch"; \
		"$$scratch/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/$$name.txt; \
		{ echo "# Generated by \`make lock\` from tests/$$name.txt; do not edit."; \
		  "$$scratch/bin/python" -m pip freeze --disable-pip-version-check; } > tests/$$name-lock.txt; \
		rm -rf "$$scratch"; \
		echo "Wrote tests/$$name-lock.txt"; \
	done

# Fresh copy of what git would commit, where ansible-test can run.
.PHONY: collection-copy
collection-copy:
	@tests/tools/build-collection-copy.sh $(COLLECTION_COPY)

# ---- tests -----------------------------------------------------------------

# --offline stops ansible-lint from installing this collection for itself, so
# it resolves lowmem.hardening.* from the fresh build copy instead (never from
# an older install under build/collections).
.PHONY: lint
lint: $(VENV_STAMP) collection-copy $(LINT_DEPENDS)
	ANSIBLE_HOME=$(TOOLS_ANSIBLE_HOME) ANSIBLE_COLLECTIONS_PATH=$(subst $(space),:,$(strip $(BUILD) $(LINT_COLLECTIONS_PATHS))) \
		ansible-lint --profile production --offline $$([ -t 1 ] || echo --nocolor)

.PHONY: sanity
sanity: $(VENV_STAMP) $(PIP_STAND_IN_STAMP) collection-copy
	@if $(IN_COPY) grep -sHnvE '^[[:space:]]*(#|$$)' tests/sanity/ignore-*.txt; then \
		echo 'ERROR: the entries above would hide sanity failures; tests/sanity/ignore-*.txt must stay empty' >&2; \
		exit 1; \
	fi
	$(ANSIBLE_TEST) sanity --local --python $(TEST_PYTHON) --requirements --junit

# ansible-test itself accepts pytest's exit 5 (no tests collected); the
# summary says so, and fails if tests/unit has test files but none ran.
.PHONY: units
units: $(VENV_STAMP) $(PIP_STAND_IN_STAMP) collection-copy
	$(ANSIBLE_TEST) units --local --python $(TEST_PYTHON) --requirements
	@$(IN_COPY) $(VENV)/bin/python tests/tools/junit_summary.py --test-files tests/unit \
		'units-2.19=$(JUNIT)/python$(TEST_PYTHON)-*-units.xml'

.PHONY: compat compat-vermin compat-units-2.16 compat-py36
compat: compat-vermin compat-units-2.16 compat-py36

# Module code runs on managed hosts, which may have Python 3.6.
compat-vermin: $(VENV_STAMP) collection-copy
	@echo '==> vermin: plugins/ must run on Python 3.6+'
	@$(IN_COPY) if [ -z "$$(find plugins -name '*.py' 2>/dev/null)" ]; then \
		echo 'vermin: no Python files under plugins/ yet, nothing to check'; \
	else \
		vermin -t=3.6- --no-tips --violations --eval-annotations plugins/; \
	fi

# The unit tests again under the oldest ansible-core in meta/runtime.yml.
# The namespace-package import mode imports each test as
# ansible_collections.lowmem.hardening.tests..., as ansible-test does; the
# venv's bin/ leads PATH so tests that run ansible-playbook get 2.16's.
compat-units-2.16: $(VENV_OLDEST_STAMP) collection-copy
	@echo '==> pytest tests/unit under ansible-core 2.16 ($(VENV_OLDEST))'
	@$(IN_COPY) status=0; \
	PATH=$(VENV_OLDEST)/bin:$$PATH PYTHONPATH=$(BUILD) ANSIBLE_HOME=$(TOOLS_ANSIBLE_HOME) \
		$(VENV_OLDEST)/bin/python -m pytest -r a -p no:cacheprovider \
		--import-mode=importlib -o consider_namespace_packages=true \
		--junit-xml=$(JUNIT)/ansible-core-2.16-units.xml tests/unit || status=$$?; \
	if [ "$$status" -eq 5 ]; then \
		echo 'pytest exit 5 under ansible-core 2.16: no tests collected (accepted only while tests/unit has no test_*.py)'; \
	elif [ "$$status" -ne 0 ]; then \
		exit "$$status"; \
	fi; \
	$(VENV)/bin/python tests/tools/junit_summary.py --test-files tests/unit \
		'units-2.16=$(JUNIT)/ansible-core-2.16-units.xml'

# A real Python 3.6 catches what vermin might miss; not every machine has one.
# `make compat PYTHON36=/path/to/python3.6` names one explicitly.
PYTHON36_CANDIDATES := /usr/bin/python3.6 /usr/local/bin/python3.6 $(wildcard $(HOME)/.pyenv/versions/3.6*/bin/python3.6)
compat-py36: collection-copy
	@echo '==> byte-compile plugins/ with a real Python 3.6'
	@$(IN_COPY) python36=''; \
	for candidate in $(PYTHON36) $(PYTHON36_CANDIDATES); do \
		if "$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 6))' 2>/dev/null; then \
			python36=$$candidate; break; \
		fi; \
	done; \
	files=$$(find plugins -name '*.py' 2>/dev/null | sort); \
	if [ -z "$$python36" ]; then \
		echo 'Python 3.6 byte-compile: skipped, no Python 3.6 interpreter on this machine'; \
	elif [ -z "$$files" ]; then \
		echo 'Python 3.6 byte-compile: no Python files under plugins/ yet'; \
	else \
		"$$python36" -c 'import sys; [compile(open(p, "rb").read(), p, "exec") for p in sys.argv[1:]]' $$files; \
		echo "Python 3.6 byte-compile: $$(wc -w <<< "$$files") files compiled with $$python36"; \
	fi

# ---- build and install ---------------------------------------------------

.PHONY: build
build: $(VENV_STAMP) collection-copy
	rm -f $(BUILD)/lowmem-hardening-*.tar.gz
	$(TOOLS_ENV) ansible-galaxy collection build --output-path $(BUILD) $(COLLECTION_COPY)

.PHONY: install
install: build
	rm -rf $(COLLECTIONS_PATH)
	$(TOOLS_ENV) ansible-galaxy collection install --offline -p $(COLLECTIONS_PATH) $(BUILD)/lowmem-hardening-*.tar.gz

# The tarball installs, and ansible-doc can read every module from the
# installed copy (ansible-doc exits 0 for a module it cannot find, hence the
# check of its JSON).
.PHONY: install-check
install-check: install
	@echo '==> ansible-doc on every module of the installed tarball'
	@modules=$$(find $(COLLECTION_COPY)/plugins/modules -name '*.py' ! -name '__init__.py' -printf '%f\n' 2>/dev/null | sed 's/\.py$$//' | sort); \
	if [ -z "$$modules" ]; then echo 'ansible-doc: no modules under plugins/modules yet'; fi; \
	for module in $$modules; do \
		name=lowmem.hardening.$$module; \
		doc=$$($(TOOLS_ENV) ansible-doc --json -t module "$$name"); \
		$(VENV)/bin/python -c 'import json, sys; sys.exit(0 if json.load(sys.stdin).get(sys.argv[1], {}).get("doc") else "ansible-doc found no documentation for " + sys.argv[1])' \
			"$$name" <<< "$$doc"; \
		echo "ansible-doc $$name: ok"; \
	done

# ---- housekeeping ----------------------------------------------------------

.PHONY: clean
clean:
	rm -rf $(VENV) $(VENV_OLDEST) $(BUILD) .ansible
