# Reliability tests, included by the Makefile:
#   make reliability   tests/reliability: a full disk, runs killed half-way, two runs at once,
#                      bad input, check mode and the claims of docs/security.md, each module
#                      run in a real process against real files (loop-mounted ext4 images too)
#
# They run as root (the modules refuse otherwise, loop devices need it) from the collection
# copy in build/, with .venv's ansible-core. LOWMEM_RELIABILITY_REQUIRED=1 turns a missing
# prerequisite into a failure instead of a skip. Debian packages: tests/reliability/bindep.txt.

TEST_TARGETS += reliability
SUMMARY_SUITES += reliability=$(JUNIT)/reliability.xml

.PHONY: reliability-system-packages
reliability-system-packages:
	@tests/tools/ensure-system-packages.sh tests/reliability/bindep.txt

# $(VENV)/.installed is the Makefile's VENV_STAMP, which is defined after this file is included.
.PHONY: reliability
reliability: $(VENV)/.installed collection-copy | reliability-system-packages
	@echo '==> pytest tests/reliability (real module processes, loop-mounted ext4 images)'
	cd $(COLLECTION_COPY) && PYTHONPATH=$(BUILD) LOWMEM_RELIABILITY_REQUIRED=1 \
		$(VENV)/bin/python -m pytest -r a -p no:cacheprovider \
		--import-mode=importlib -o consider_namespace_packages=true \
		--junit-xml=$(JUNIT)/reliability.xml tests/reliability
