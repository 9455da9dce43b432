# Benchmarks (bench/README.md), included by the Makefile:
#   make bench        every measurement at full size, repeated and interleaved with its
#                     baseline; writes bench/results/latest.json and latest.md (minutes;
#                     not part of make test)
#   make bench-quick  the same harness at tiny sizes, 1 run, 1 host, results under
#                     build/bench/results: shows that it runs; no time is judged (make test)
# BENCH_ARGS passes options on, e.g. `make bench BENCH_ARGS='--only 1,4 --runs 5'`.
#
# Root, rootful podman and the molecule tooling, as make molecule: .venv-molecule gives
# ansible-core and containers.podman, tests/containers/build-images.sh the base images
# (bench.py builds its own bench-ssh image on top). Debian packages: bench/bindep.txt.

TEST_TARGETS += bench-quick

BENCH_RUN := CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf $(CURDIR)/.venv-molecule/bin/python bench/bench.py

.PHONY: bench-system-packages
bench-system-packages:
	@tests/tools/ensure-system-packages.sh bench/bindep.txt

# Only the two images the benchmarks start from. molecule-root, molecule-venv and
# molecule-system-packages are tests/make/molecule.mk's.
.PHONY: bench-images
bench-images: molecule-root | molecule-system-packages
	CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf tests/containers/build-images.sh debian12:python debian12:systemd

.PHONY: bench bench-quick
bench: molecule-root molecule-venv bench-images | bench-system-packages
	$(BENCH_RUN) --results bench/results $(BENCH_ARGS)

bench-quick: molecule-root molecule-venv bench-images | bench-system-packages
	$(BENCH_RUN) --quick --results $(BUILD)/bench/results $(BENCH_ARGS)
