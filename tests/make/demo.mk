# The demo (README's quick start), included by the Makefile:
#   make demo              the story on a real kernel (demo/demo-vm.sh): `droplet`, a QEMU VM of Debian 12 with
#                          the test lowmemorykiller driver (tests/kernel) at its defaults, booted from a fresh
#                          overlay in build/demo/droplet; BEFORE, the job site-build really killed,
#                          playbooks/harden-lowmem.yml twice (the role's defaults: swap on, sysctls applied),
#                          AFTER, and site-build again, completing with swap. The VM stays up for a look.
#   make demo-clean        stop the demo's VM and remove build/demo/droplet
#   make demo-check        the same run in a VM of its own (build/demo/droplet-check), failing at any step that
#                          is not what the demo says; the VM is stopped at the end. Part of `make test`.
#   make demo-quick        the same story in seconds on a podman container standing in for the droplet
#                          (demo/demo-container.sh: fake lowmemorykiller sysfs, emulated 512 MiB MemTotal, the
#                          story's kern.log; nothing is killed, swap is not turned on). It stays up for a look.
#   make demo-quick-clean  remove that container and its disk volume
#   make demo-quick-check  the container run in a container of its own, checked the same way; removed at the
#                          end. Part of `make test`.
#
# Everything else comes from other make files: the VM's kernel, driver, initramfs and root disk from
# `make kernel-vm-build` (tests/make/kernel.mk, which also installs QEMU), ansible-core (and containers.podman
# for the container) from .venv-molecule (tests/make/molecule.mk), and for demo-quick the image
# localhost/lowmem-hardening/debian12:systemd, built by tests/containers/build-images.sh when missing.
# Root is needed, as for `make kernel-vm` and `make molecule`.
#
# `make test` runs demo-check (about 2 minutes warm) and demo-quick-check (about 20 s warm: it keeps the
# container demo working; its image is the one `make molecule` builds anyway).

TEST_TARGETS += demo-check demo-quick-check

DEMO_ENV := CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf LOWMEM_DEMO_VENV=$(CURDIR)/.venv-molecule
# Recursive: KERNEL_BUILD comes from tests/make/kernel.mk, included after this file.
DEMO_VM_ENV = $(DEMO_ENV) LOWMEM_KERNEL_BUILD=$(KERNEL_BUILD)

.PHONY: demo-root
demo-root:
	@[ "$$(id -u)" -eq 0 ] || { echo 'make demo needs root (QEMU VMs, rootful podman, debootstrap): sudo make demo' >&2; exit 1; }

.PHONY: demo
demo: demo-root molecule-venv kernel-vm-build
	@$(DEMO_VM_ENV) demo/demo-vm.sh run

.PHONY: demo-clean
demo-clean: demo-root
	@$(DEMO_VM_ENV) demo/demo-vm.sh clean

.PHONY: demo-check
demo-check: demo-root molecule-venv kernel-vm-build
	@$(DEMO_VM_ENV) demo/demo-vm.sh check

.PHONY: demo-image
demo-image: demo-root | molecule-system-packages
	@$(DEMO_ENV) tests/containers/build-images.sh debian12:systemd

.PHONY: demo-quick
demo-quick: demo-root molecule-venv demo-image
	@$(DEMO_ENV) demo/demo-container.sh run

.PHONY: demo-quick-clean
demo-quick-clean: demo-root
	@$(DEMO_ENV) demo/demo-container.sh clean

.PHONY: demo-quick-check
demo-quick-check: demo-root molecule-venv demo-image
	@$(DEMO_ENV) demo/demo-container.sh check
