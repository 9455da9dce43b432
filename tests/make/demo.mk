# The demo (README's quick start), included by the Makefile:
#   make demo         a podman container standing in for a 512 MB droplet of 2014 (fake lowmemorykiller
#                     sysfs, emulated 512 MiB MemTotal, the story's kern.log): BEFORE, the playbook twice,
#                     AFTER (demo/demo.sh). The container stays up for a look; a new run starts afresh.
#   make demo-clean   remove the demo's container and its disk volume
#   make demo-check   the same run in a container of its own (lowmem-demo-check), checking that the host is
#                     what the demo says at each step; removed at the end. Part of `make test`.
#
# Everything comes from the container tests' set-up (tests/make/molecule.mk): the Debian packages of
# tests/containers/bindep.txt, .venv-molecule (ansible-core) with containers.podman, and the image
# localhost/lowmem-hardening/debian12:systemd, built by tests/containers/build-images.sh when missing.
# Root is needed for rootful podman, as for `make molecule`.

TEST_TARGETS += demo-check

DEMO_ENV := CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf LOWMEM_DEMO_VENV=$(CURDIR)/.venv-molecule

.PHONY: demo-root
demo-root:
	@[ "$$(id -u)" -eq 0 ] || { echo 'make demo needs root (rootful podman, debootstrap): sudo make demo' >&2; exit 1; }

.PHONY: demo-image
demo-image: demo-root | molecule-system-packages
	@$(DEMO_ENV) tests/containers/build-images.sh debian12:systemd

.PHONY: demo
demo: demo-root molecule-venv demo-image
	@$(DEMO_ENV) demo/demo.sh run

.PHONY: demo-clean
demo-clean: demo-root
	@$(DEMO_ENV) demo/demo.sh clean

.PHONY: demo-check
demo-check: demo-root molecule-venv demo-image
	@$(DEMO_ENV) demo/demo.sh check
