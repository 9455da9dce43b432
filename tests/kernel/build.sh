#!/usr/bin/env bash
# Build what the real-kernel VMs boot (tests/kernel/README.md), into OUT
# (default build/kernel), each part again only when what it is made from changed:
#   kernel/          Debian 12's cloud kernel: vmlinuz and its modules, from the
#                    package, unpacked (nothing is installed on the host)
#   lowmemorykiller.ko  tests/kernel/lowmemorykiller, built against the headers
#                    of that same kernel (Debian's linux-headers package, installed)
#   initramfs.gz     busybox (busybox-static), the virtio drivers, the driver,
#                    and tests/kernel/initramfs-init as /init
#   id_ed25519       the SSH key for root in every guest
#   disk-vm.img      the root disks: the project's debootstrap images
#   disk-openrc.img  localhost/lowmem-hardening/debian12:vm and :openrc
#                    (tests/containers/build-images.sh), with the key, the test
#                    job site-build (and on the vm disk the services memhold and
#                    batch, not enabled) and a few settings, as a sparse 3 GiB ext4
#   versions.txt     the Debian packages all this came from
# Debian replaces old kernel ABIs in its archive, so the ABI is never written
# down here: it is the one that linux-image-cloud-amd64 depends on today, and
# the headers are installed at exactly that package's version. Needs root
# (apt-get, podman, files owned by the guests' users); CONTAINERS_CONF should
# point at tests/containers/containers.conf (tests/make/kernel.mk sets it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/build/kernel}
flavours=(vm openrc)
disk_size=3G
mkdir -p "$out"

# Prints "PACKAGE VERSION" of the cloud kernel image the metapackage points at.
resolve_kernel() {
    local package
    package=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9.]+-[0-9]+-cloud-amd64$/ { print $2; exit }')
    if [ -z "$package" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        package=$(apt-cache depends linux-image-cloud-amd64 |
            awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9.]+-[0-9]+-cloud-amd64$/ { print $2; exit }')
    fi
    [ -n "$package" ] || { echo 'build.sh: apt knows no linux-image-cloud-amd64' >&2; return 1; }
    echo "$package $(apt-cache policy "$package" | awk '$1 == "Candidate:" { print $2 }')"
}

read -r image_package version < <(resolve_kernel)
release=${image_package#linux-image-}
headers_package=linux-headers-$release
installed_headers=$(dpkg-query -W -f '${Status} ${Version}' "$headers_package" 2>/dev/null || true)
if [ "$installed_headers" != "install ok installed $version" ]; then
    echo "build.sh: installing $headers_package=$version"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$headers_package=$version"
fi
headers=/usr/src/$headers_package

# The kernel, unpacked from the package of the same version as the headers.
kernel_dir=$out/kernel
if [ "$(cat "$kernel_dir/.package" 2>/dev/null)" != "$image_package $version" ]; then
    echo "build.sh: unpacking $image_package $version"
    scratch=$(mktemp -d "$out/.kernel.XXXXXX")
    (cd "$scratch" && apt-get download -q -o APT::Sandbox::User=root "$image_package=$version" >/dev/null)
    dpkg-deb -x "$scratch"/*.deb "$scratch/root"
    rm -rf "$kernel_dir"
    mkdir -p "$kernel_dir"
    mv "$scratch/root/boot/vmlinuz-$release" "$kernel_dir/vmlinuz"
    mv "$scratch/root/lib/modules/$release" "$kernel_dir/modules"
    rm -rf "$scratch"
    echo "$image_package $version" >"$kernel_dir/.package"
fi

# The driver, built in a copy: no build products in the source tree.
module_recipe=$({ echo "$image_package $version"; cat "$here"/lowmemorykiller/Kbuild "$here"/lowmemorykiller/*.c; } |
    sha256sum | cut -c1-16)
if [ "$(cat "$out/.module-recipe" 2>/dev/null)" != "$module_recipe" ] || [ ! -f "$out/lowmemorykiller.ko" ]; then
    echo "build.sh: building lowmemorykiller.ko against $headers_package"
    rm -rf "$out/module"
    mkdir -p "$out/module"
    cp "$here"/lowmemorykiller/Kbuild "$here"/lowmemorykiller/*.c "$out/module/"
    make -s -C "$headers" M="$out/module" modules
    install -m 0644 "$out/module/lowmemorykiller.ko" "$out/lowmemorykiller.ko"
    echo "$module_recipe" >"$out/.module-recipe"
fi

# The initramfs: the virtio drivers, each after the modules its modinfo
# `depends=` names (the package has no modules.dep, and busybox's insmod reads
# none), then the driver.
virtio_modules=(virtio_pci virtio_blk virtio_net)
# Copies module NAME into DIR after its dependencies, once, and lists it in DIR/order.
add_module() {
    local dir=$1 module=$2 file dependency
    grep -qx "$module" "$dir/order" && return 0
    file=$(find "$kernel_dir/modules/kernel" -name "$module.ko" -print -quit)
    [ -n "$file" ] || { echo "build.sh: $module.ko is not in $image_package" >&2; return 1; }
    for dependency in $(tr '\0' '\n' <"$file" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_module "$dir" "$dependency"
    done
    install -m 0644 "$file" "$dir/"
    echo "$module" >>"$dir/order"
}

busybox=$(command -v busybox) || { echo 'build.sh: busybox (busybox-static) is missing' >&2; exit 1; }
initramfs_recipe=$({ declare -p virtio_modules; declare -f add_module; cat "$here/initramfs-init" "$out/lowmemorykiller.ko" "$busybox" "$kernel_dir/.package"; } |
    sha256sum | cut -c1-16)
if [ "$(cat "$out/.initramfs-recipe" 2>/dev/null)" != "$initramfs_recipe" ] || [ ! -f "$out/initramfs.gz" ]; then
    echo 'build.sh: building initramfs.gz'
    staging=$(mktemp -d "$out/.initramfs.XXXXXX")
    mkdir -p "$staging"/{bin,dev,proc,sys,modules}
    install -m 0755 "$busybox" "$staging/bin/busybox"
    ln -s busybox "$staging/bin/sh"
    install -m 0755 "$here/initramfs-init" "$staging/init"
    touch "$staging/modules/order"
    for module in "${virtio_modules[@]}"; do
        add_module "$staging/modules" "$module"
    done
    install -m 0644 "$out/lowmemorykiller.ko" "$staging/modules/"
    (cd "$staging" && find . | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out/initramfs.gz.tmp"
    mv "$out/initramfs.gz.tmp" "$out/initramfs.gz"
    rm -rf "$staging"
    echo "$initramfs_recipe" >"$out/.initramfs-recipe"
fi

if [ ! -f "$out/id_ed25519" ]; then
    ssh-keygen -q -t ed25519 -N '' -C lowmem-hardening-kernel-vm -f "$out/id_ed25519"
fi

# zram for lowmem.hardening.zram on the vm disk: the module and the compressors the cloud kernel has as
# modules (lzo and lzo-rle are built in), each after the modules its modinfo `depends=` names, under
# /lib/modules/RELEASE with the kernel's own paths, and depmod's indexes, so that modprobe (kmod, in the
# image) and the kernel's request_module of crypto-lz4 or crypto-zstd find them. Nothing loads them at boot.
zram_modules=(zram lz4 lz4hc zstd)
# Copies module NAME and its dependencies from the kernel package into the guest's /lib/modules/RELEASE.
add_guest_module() {
    local target=$1 module=$2 file dependency
    file=$(find "$kernel_dir/modules/kernel" -name "$module.ko" -print -quit)
    [ -n "$file" ] || { echo "build.sh: $module.ko is not in $image_package" >&2; return 1; }
    [ -f "$target/${file#"$kernel_dir/modules/"}" ] && return 0
    for dependency in $(tr '\0' '\n' <"$file" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_guest_module "$target" "$dependency"
    done
    install -D -m 0644 "$file" "$target/${file#"$kernel_dir/modules/"}"
}

# What every guest gets on top of its image.
customise() {
    local root=$1 flavour=$2
    echo kernel-vm >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tkernel-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
    # The initramfs mounts the root read-write; swap lines are the tests' own.
    echo '# <file system> <mount point> <type> <options> <dump> <pass>' >"$root/etc/fstab"
    install -d -m 0700 "$root/root/.ssh"
    install -m 0600 "$out/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
    # Run by its own name, so that the kernel's records call it site-build.
    { echo '#!/usr/bin/python3'; cat "$here/guest/site-build.py"; } >"$root/usr/local/bin/site-build"
    chmod 0755 "$root/usr/local/bin/site-build"
    # One machine ID for all: the journal keeps its files across reboots under it.
    echo 6c6f776d656d2d6b65726e656c2d766d >"$root/etc/machine-id"
    if [ "$flavour" = vm ]; then
        # No terminal to log in on, and no timers that start apt in the middle of a test.
        for unit in serial-getty@.service getty.target apt-daily.timer apt-daily-upgrade.timer \
            systemd-networkd-wait-online.service; do
            ln -sf /dev/null "$root/etc/systemd/system/$unit"
        done
        # The services of the protection tests (molecule/protect), installed, not enabled: one
        # program under two names, so that the kernel and earlyoom tell memhold from batchjob.
        for program in memhold batchjob; do
            { echo '#!/usr/bin/python3'; cat "$here/guest/memhold.py"; } >"$root/usr/local/bin/$program"
            chmod 0755 "$root/usr/local/bin/$program"
        done
        install -m 0644 "$here/guest/memhold.service" "$here/guest/batch.service" "$root/etc/systemd/system/"
        local module
        for module in "${zram_modules[@]}"; do
            add_guest_module "$root/lib/modules/$release" "$module"
        done
        install -m 0644 "$kernel_dir/modules/modules.builtin" "$kernel_dir/modules/modules.builtin.modinfo" \
            "$kernel_dir/modules/modules.order" "$root/lib/modules/$release/"
        depmod -b "$root" "$release"
    else
        # sysvinit: no consoles to log in on; OpenRC starts sshd and cron.
        sed -i -E 's/^([0-9]+:[0-9]+:respawn:.*getty)/#\1/' "$root/etc/inittab"
        for service in ssh cron; do
            ln -sf "/etc/init.d/$service" "$root/etc/runlevels/default/$service"
        done
    fi
}

for flavour in "${flavours[@]}"; do
    image=localhost/lowmem-hardening/debian12:$flavour
    disk=$out/disk-$flavour.img
    image_id=$(podman image inspect --format '{{ .Id }}' "$image") ||
        { echo "build.sh: no image $image (tests/containers/build-images.sh debian12:$flavour)" >&2; exit 1; }
    disk_recipe=$({ echo "$image_id $disk_size"; cat "$kernel_dir/.package"; declare -p zram_modules
        declare -f customise add_guest_module
        cat "$here"/guest/site-build.py "$here"/guest/memhold.py "$here"/guest/*.service "$out/id_ed25519.pub"; } |
        sha256sum | cut -c1-16)
    if [ "$(cat "$disk.recipe" 2>/dev/null)" = "$disk_recipe" ] && [ -f "$disk" ]; then
        continue
    fi
    echo "build.sh: making $(basename "$disk") from $image"
    root=$(mktemp -d "$out/.root-$flavour.XXXXXX")
    container=$(podman create --quiet "$image")
    podman export "$container" | tar --numeric-owner -x -C "$root"
    podman rm --force "$container" >/dev/null
    customise "$root" "$flavour"
    rm -f "$disk.tmp"
    truncate -s "$disk_size" "$disk.tmp"
    mkfs.ext4 -q -F -L root -d "$root" "$disk.tmp"
    rm -rf "$root"
    mv "$disk.tmp" "$disk"
    echo "$disk_recipe" >"$disk.recipe"
done

dpkg-query -W -f '${Package} ${Version}\n' "$headers_package" qemu-system-x86 busybox-static >"$out/versions.txt.tmp"
echo "$image_package $version" >>"$out/versions.txt.tmp"
sort -o "$out/versions.txt" "$out/versions.txt.tmp"
rm -f "$out/versions.txt.tmp"
echo "build.sh: $out ready ($release)"
