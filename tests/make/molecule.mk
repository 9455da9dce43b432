# Container tests, included by the Makefile:
#   make fakesysfs        the fake sysfs (tests/fakesysfs) mounted on the host, and the
#                         lowmemorykiller module run by .venv-molecule's ansible CLI against it
#   make molecule         every container scenario in molecule/ (all but kernel: tests/make/kernel.mk)
#   make molecule-images  build the missing base images only
#   make molecule-lock    re-resolve tests/requirements-molecule.txt
#   make molecule-clean   remove .venv-molecule and the base images
#
# Molecule and testinfra live in their own venv, .venv-molecule, pinned by
# tests/requirements-molecule*.txt: their dependency tree then never moves the
# pins of .venv, and targets that do not use containers never install them.
# containers.podman comes from PyPI's `ansible` wheel (Galaxy is unreachable):
# only ansible_collections/containers/podman is unpacked, into
# .venv-molecule/collections. Podman reads tests/containers/containers.conf
# through CONTAINERS_CONF: no user's or system configuration is read or changed.

TEST_TARGETS += fakesysfs molecule

MOLECULE_VENV := $(CURDIR)/.venv-molecule
MOLECULE_VENV_STAMP := $(MOLECULE_VENV)/.installed
MOLECULE_COLLECTIONS := $(MOLECULE_VENV)/collections
PODMAN_COLLECTION_STAMP := $(MOLECULE_COLLECTIONS)/.containers-podman-installed
# The `ansible` release whose wheel carries containers.podman (12.x: ansible-core 2.19).
ANSIBLE_WHEEL := ansible==12.3.0
ANSIBLE_WHEEL_SHA256 := cd156f82fa87f7a899212b0efa9f7ca3a24d609212de9f78428a572eb01e5414

# Molecule builds the collection under test from the work tree and installs it into
# $(ANSIBLE_HOME)/collections, looked up first; the collections path only adds
# containers.podman. ANSIBLE_HOME keeps that install, Molecule's ephemeral files
# (inventory, instance config) and Ansible's temporaries in the project's
# git-ignored .ansible/, not in ~/.ansible.
# Container names (and swap_dir) in molecule/*/molecule.yml carry LOWMEM_MOLECULE_ID, here a
# hash of this checkout's path: `make molecule` in a CI clone and in the work tree at the same
# time then never touch each other's containers.
LOWMEM_MOLECULE_ID := $(shell printf '%s' '$(CURDIR)' | sha256sum | cut -c1-8)
MOLECULE_ENV := PATH=$(MOLECULE_VENV)/bin:$$PATH \
	LOWMEM_MOLECULE_ID=$(LOWMEM_MOLECULE_ID) \
	CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf \
	ANSIBLE_HOME=$(CURDIR)/.ansible \
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.ansible/collections:$(MOLECULE_COLLECTIONS) \
	ANSIBLE_FORCE_COLOR=0

.PHONY: molecule-system-packages
molecule-system-packages:
	@tests/tools/ensure-system-packages.sh tests/containers/bindep.txt

$(MOLECULE_VENV_STAMP): tests/requirements-molecule.txt tests/requirements-molecule-lock.txt | molecule-system-packages
	rm -rf $(MOLECULE_VENV)
	$(PYTHON) -m venv $(MOLECULE_VENV)
	$(MOLECULE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tests/requirements-molecule.txt -c tests/requirements-molecule-lock.txt
	touch $@

# The stamp holds the wheel spec the collection came from: it is installed again only when
# that changes (or the venv was rebuilt), not at every edit of this file. The new copy is
# unpacked beside the old one and renamed into place, so that concurrent runs (make demo,
# make bench) never find containers.podman missing for longer than two renames.
PODMAN_WHEEL_SPEC := $(ANSIBLE_WHEEL) --hash=sha256:$(ANSIBLE_WHEEL_SHA256)
PODMAN_COLLECTION := $(MOLECULE_COLLECTIONS)/ansible_collections/containers/podman

.PHONY: molecule-podman-collection
molecule-podman-collection: $(MOLECULE_VENV_STAMP)
	@if [ "$$(cat $(PODMAN_COLLECTION_STAMP) 2>/dev/null)" = '$(PODMAN_WHEEL_SPEC)' ] && [ -d $(PODMAN_COLLECTION) ]; then \
		exit 0; \
	fi; \
	echo 'Installing containers.podman from $(ANSIBLE_WHEEL) into $(MOLECULE_COLLECTIONS)'; \
	mkdir -p $(dir $(PODMAN_COLLECTION)); \
	scratch=$$(mktemp -d $(MOLECULE_COLLECTIONS)/.containers-podman.XXXXXX); \
	trap 'rm -rf "$$scratch"' EXIT; \
	echo '$(PODMAN_WHEEL_SPEC)' > "$$scratch/wheel.txt"; \
	$(MOLECULE_VENV)/bin/python -m pip download --quiet --disable-pip-version-check --no-deps \
		--only-binary=:all: --require-hashes -r "$$scratch/wheel.txt" -d "$$scratch"; \
	$(MOLECULE_VENV)/bin/python -c 'import sys, zipfile; \
		wheel = zipfile.ZipFile(sys.argv[1]); \
		prefix = "ansible_collections/containers/podman/"; \
		wheel.extractall(sys.argv[2], [n for n in wheel.namelist() if n.startswith(prefix)])' \
		"$$scratch"/ansible-*.whl "$$scratch/new"; \
	if [ -d $(PODMAN_COLLECTION) ]; then mv $(PODMAN_COLLECTION) "$$scratch/old"; fi; \
	mv "$$scratch/new/ansible_collections/containers/podman" $(PODMAN_COLLECTION); \
	echo '$(PODMAN_WHEEL_SPEC)' > $(PODMAN_COLLECTION_STAMP)

.PHONY: molecule-venv
molecule-venv: $(MOLECULE_VENV_STAMP) molecule-podman-collection

# Rootful podman: the containers need /dev/fuse and CAP_SYS_ADMIN for the fake sysfs.
.PHONY: molecule-root
molecule-root:
	@[ "$$(id -u)" -eq 0 ] || { echo 'make molecule needs root (rootful podman, debootstrap)' >&2; exit 1; }

.PHONY: molecule-images
molecule-images: molecule-root | molecule-system-packages
	CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf tests/containers/build-images.sh

.PHONY: fakesysfs
fakesysfs: $(MOLECULE_VENV_STAMP)
	LOWMEM_FAKESYSFS_REQUIRED=1 $(MOLECULE_VENV)/bin/python -m pytest -p no:cacheprovider -r a tests/fakesysfs

# Every container scenario, each with its full sequence (destroy also after a failure).
# The VM scenarios `kernel`, `protect` and `zram` have their own targets (tests/make/kernel.mk).
.PHONY: molecule
molecule: molecule-root molecule-venv molecule-images
	$(MOLECULE_ENV) molecule test --all --exclude kernel --exclude protect --exclude zram

.PHONY: molecule-lock
molecule-lock: | molecule-system-packages
	scratch=$$(mktemp -d); \
	$(PYTHON) -m venv "$$scratch"; \
	"$$scratch/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements-molecule.txt; \
	{ echo "# Generated by \`make molecule-lock\` from tests/requirements-molecule.txt; do not edit."; \
	  "$$scratch/bin/python" -m pip freeze --disable-pip-version-check; } > tests/requirements-molecule-lock.txt; \
	rm -rf "$$scratch"

.PHONY: molecule-clean
molecule-clean:
	rm -rf $(MOLECULE_VENV)
	-CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf podman rmi --ignore \
		$$(CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf podman images --format '{{.Repository}}:{{.Tag}}' \
		   --filter reference='localhost/lowmem-hardening/*')
