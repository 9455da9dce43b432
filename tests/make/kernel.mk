# The real-kernel VMs (tests/kernel/README.md), included by the Makefile:
#   make kernel-vm-build  build what the VMs boot into build/kernel (tests/kernel/build.sh): Debian 12's
#                         cloud kernel, the test lowmemorykiller driver built against its headers, the
#                         initramfs that loads it, and the root disks made from the debootstrap images
#   make kernel-vm        boot one VM (KERNEL_VM_ARGS: options of tests/kernel/vm.py start, e.g.
#                         --switch android_autodetect=1 or --flavour openrc) and write
#                         build/kernel-vm/inventory.ini (host kernel-vm) and build/kernel-vm/ssh_config
#   make kernel-vm-clean  stop it and remove its overlay
#   make bench-kernel-vm  boot times (cold, warm) and a module call next to ping on the VM:
#                         bench/kernel_vm.py, bench/results/kernel-vm.md
#   make kernel           the Molecule scenario `kernel` (molecule/kernel): the collection on the real kernel,
#                         three VMs (systemd, Android's autodetection, OpenRC); part of `make test`
#   make protect          the Molecule scenario `protect` (molecule/protect): lowmem.hardening.oom_protect
#                         against real kills by lowmemorykiller, the kernel's OOM killer and earlyoom, the
#                         sshd trap and a reboot, on one VM; part of `make test`
#   make zram             the Molecule scenario `zram` (molecule/zram): the role's zram on one VM: the hog killed
#                         without swap completes with zram alone, zram fills before the swap file, a reboot,
#                         idempotence, check mode and absent; part of `make test`
# Root is needed (apt-get for the pinned headers, podman for the images, files owned by guest users).


TEST_TARGETS += kernel protect zram

KERNEL_BUILD := $(BUILD)/kernel
KERNEL_VM := $(BUILD)/kernel-vm
KERNEL_VM_ARGS ?=
KERNEL_ENV := CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf LOWMEM_KERNEL_BUILD=$(KERNEL_BUILD)

.PHONY: kernel-root
kernel-root:
	@[ "$$(id -u)" -eq 0 ] || { echo 'the real-kernel VMs need root (apt-get, podman): sudo make ...' >&2; exit 1; }

.PHONY: kernel-system-packages
kernel-system-packages: molecule-system-packages
	@tests/tools/ensure-system-packages.sh tests/kernel/bindep.txt

.PHONY: kernel-vm-build
kernel-vm-build: kernel-root kernel-system-packages
	@$(KERNEL_ENV) tests/containers/build-images.sh debian12:vm debian12:openrc
	@$(KERNEL_ENV) tests/kernel/build.sh $(KERNEL_BUILD)

.PHONY: kernel-vm
kernel-vm: kernel-vm-build
	@$(KERNEL_ENV) python3 tests/kernel/vm.py stop $(KERNEL_VM)/vm
	@$(KERNEL_ENV) python3 tests/kernel/vm.py start $(KERNEL_VM)/vm --name kernel-vm $(KERNEL_VM_ARGS)
	@$(KERNEL_ENV) python3 tests/kernel/vm.py inventory $(KERNEL_VM)/vm >$(KERNEL_VM)/inventory.ini
	@$(KERNEL_ENV) python3 tests/kernel/vm.py ssh-config $(KERNEL_VM)/vm >$(KERNEL_VM)/ssh_config
	@echo 'Inventory: $(KERNEL_VM)/inventory.ini   ssh -F $(KERNEL_VM)/ssh_config kernel-vm'

.PHONY: kernel-vm-clean
kernel-vm-clean:
	@$(KERNEL_ENV) python3 tests/kernel/vm.py stop $(KERNEL_VM)/vm
	@rm -f $(KERNEL_VM)/inventory.ini $(KERNEL_VM)/ssh_config
	@echo 'Stopped kernel-vm and removed its overlay.'

.PHONY: kernel
kernel: kernel-vm-build molecule-venv
	$(MOLECULE_ENV) $(KERNEL_ENV) molecule test -s kernel

.PHONY: protect
protect: kernel-vm-build molecule-venv
	$(MOLECULE_ENV) $(KERNEL_ENV) molecule test -s protect

.PHONY: zram
zram: kernel-vm-build molecule-venv
	$(MOLECULE_ENV) $(KERNEL_ENV) molecule test -s zram

# Boot times and one module call next to ping on the VM (bench/kernel_vm.py); minutes, not in make test.
KERNEL_BENCH_COLLECTIONS := $(BUILD)/bench/kernel-vm-collections
.PHONY: bench-kernel-vm
bench-kernel-vm: kernel-vm-build molecule-venv
	@mkdir -p $(KERNEL_BENCH_COLLECTIONS)/ansible_collections/lowmem
	@ln -sfn $(CURDIR) $(KERNEL_BENCH_COLLECTIONS)/ansible_collections/lowmem/hardening
	$(KERNEL_ENV) PATH=$(MOLECULE_VENV)/bin:$$PATH ANSIBLE_HOME=$(BUILD)/bench/kernel-vm-ansible-home \
		ANSIBLE_COLLECTIONS_PATH=$(KERNEL_BENCH_COLLECTIONS) \
		$(MOLECULE_VENV)/bin/python bench/kernel_vm.py --results bench/results/kernel-vm.md $(BENCH_ARGS)
