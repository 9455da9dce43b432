#!/usr/bin/env bash
# Build the test base images with debootstrap, only those that are missing or
# whose recipe changed:
#   localhost/lowmem-hardening/debian12:python   python3 and the FUSE runtime
#   localhost/lowmem-hardening/debian12:systemd  the same plus systemd as PID 1,
#                                                cron, and the fake sysfs unit
# and the same for debian13 (all four by default), and, asked for by name, the
# root file systems of the real-kernel VMs (tests/kernel/build.sh makes their
# disks; a real kernel needs no fake sysfs):
#   localhost/lowmem-hardening/debian12:vm       systemd, D-Bus, udev, openssh-server,
#                                                cron, sysfsutils, procps, earlyoom
#                                                (installed, not started at boot), kmod and
#                                                systemd-zram-generator (installed, no zram
#                                                configured)
#   localhost/lowmem-hardening/debian12:openrc   sysvinit and OpenRC instead
# Usage: build-images.sh [IMAGE...]
# Needs root, podman and debootstrap. CONTAINERS_CONF should point at
# tests/containers/containers.conf (tests/make/molecule.mk sets it).
# DEBIAN_MIRROR overrides debootstrap's default mirror.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repository_prefix=localhost/lowmem-hardening
# .deb files downloaded by debootstrap, kept between builds (git-ignored).
cache_dir=${LOWMEM_IMAGE_CACHE:-$here/../../.cache/debootstrap}

# The fake sysfs needs fuse3 and the pyfuse3 binding (Debian's python3-pyfuse3).
python_packages=python3,fuse3,python3-pyfuse3
systemd_packages=$python_packages,systemd,systemd-sysv,cron
# earlyoom is there for the tests that start it (molecule/protect); its package enables it, and the
# vm branch below takes that back: elsewhere the lowmemorykiller must be the only killer that acts first.
# kmod and systemd-zram-generator are there for lowmem.hardening.zram; the vm branch below takes back the
# zram swap that Debian's package configures by default.
vm_packages=python3,systemd,systemd-sysv,dbus,udev,openssh-server,cron,sysfsutils,procps,earlyoom,kmod,systemd-zram-generator
# openrc conflicts with sysv-rc, which debootstrap always picks for sysvinit-core:
# apt swaps them afterwards (install_openrc).
openrc_packages=python3,sysvinit-core,openssh-server,cron,procps

suite_of() {
    case "$1" in
        debian12) echo bookworm ;;
        debian13) echo trixie ;;
        *) echo "unknown release: $1" >&2; return 1 ;;
    esac
}

# Everything that decides an image's content; a change rebuilds the image.
recipe_of() {
    local flavour=$1
    {
        cat "$here/build-images.sh"
        if [ "$flavour" = systemd ]; then cat "$here"/systemd/*; fi
    } | sha256sum | cut -c1-16
}

install_openrc() {
    local root=$1
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openrc \
        >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; rm -f "$root.log"; return 1; }
    rm -f "$root.log"
}

build() {
    local release=$1 flavour=$2
    local tag=$repository_prefix/$release:$flavour
    local recipe suite packages root
    local superseded=''
    recipe=$(recipe_of "$flavour")
    if podman image exists "$tag"; then
        if [ "$(podman image inspect --format '{{ index .Labels "lowmem-hardening.recipe" }}' "$tag")" = "$recipe" ]; then
            echo "$tag: up to date"
            return 0
        fi
        superseded=$(podman image inspect --format '{{ .Id }}' "$tag")
    fi
    suite=$(suite_of "$release")
    case "$flavour" in
        python) packages=$python_packages ;;
        systemd) packages=$systemd_packages ;;
        vm) packages=$vm_packages ;;
        openrc) packages=$openrc_packages ;;
        *) echo "unknown flavour: $flavour" >&2; return 1 ;;
    esac
    root=$(mktemp -d "${TMPDIR:-/tmp}/lowmem-image.XXXXXX")
    # shellcheck disable=SC2064  # expand $root now: it is local
    trap "rm -rf -- '$root'" RETURN
    echo "$tag: debootstrap $suite ($packages)"
    mkdir -p "$cache_dir/$suite"
    debootstrap --variant=minbase --include="$packages" --cache-dir="$cache_dir/$suite" \
        "$suite" "$root" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >"$root.log" 2>&1 \
        || { tail -20 "$root.log" >&2; rm -f "$root.log"; return 1; }
    rm -f "$root.log"
    if [ "$flavour" = openrc ]; then
        install_openrc "$root"
    fi
    # Smaller images: no package lists or downloaded .debs, no docs.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
    local changes=(--change "LABEL lowmem-hardening.recipe=$recipe")
    if [ "$flavour" = systemd ]; then
        install -m 0644 "$here/systemd/lowmem-fakesysfs.service" "$root/etc/systemd/system/"
        ln -sf /etc/systemd/system/lowmem-fakesysfs.service \
            "$root/etc/systemd/system/sysinit.target.wants/lowmem-fakesysfs.service"
        # Nothing in a container to wait for: these only slow the boot down or fail.
        for unit in systemd-networkd-wait-online.service getty.target console-getty.service; do
            ln -sf /dev/null "$root/etc/systemd/system/$unit"
        done
        changes+=(--change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3')
    elif [ "$flavour" = vm ] || [ "$flavour" = openrc ]; then
        if [ "$flavour" = vm ]; then
            # earlyoom installed, not enabled: its postinst linked it into multi-user.target. Without
            # the link (what `systemctl disable` leaves) deb-systemd-helper sees an admin's choice.
            rm -f "$root/etc/systemd/system/multi-user.target.wants/earlyoom.service"
            # systemd-zram-generator installed, no zram: its conffile's [zram0] would make a zram swap at
            # every boot and its modules-load.d file loads zram. A conffile removed is an admin's choice to
            # dpkg, as a host without zram that has the package looks.
            rm -f "$root/etc/systemd/zram-generator.conf" "$root/etc/modules-load.d/20-zram-generator.conf"
        fi
        changes+=(--change 'CMD ["/sbin/init"]')
    else
        changes+=(--change 'CMD ["/bin/sh"]')
    fi
    tar --numeric-owner -C "$root" -c . | podman import --quiet "${changes[@]}" - "$tag" >/dev/null
    # The old image lost its tag; remove it unless a container still uses it.
    if [ -n "$superseded" ]; then
        podman rmi "$superseded" >/dev/null 2>&1 || true
    fi
    echo "$tag: built ($(podman image inspect --format '{{ .Size }}' "$tag" | numfmt --to=iec))"
}

images=("$@")
if [ "${#images[@]}" -eq 0 ]; then
    images=(debian12:python debian12:systemd debian13:python debian13:systemd)
fi
for image in "${images[@]}"; do
    build "${image%%:*}" "${image#*:}"
done
