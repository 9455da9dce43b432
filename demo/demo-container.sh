#!/usr/bin/env bash
# `make demo-quick`: the story of `make demo` in seconds, on a podman container standing in for a 512 MB
# droplet of 2014 (fake lowmemorykiller sysfs, emulated MemTotal, a canned kern.log); nothing is really
# killed and swap is not turned on. `make demo` plays it on a real kernel (demo/demo-vm.sh).
#   demo/demo-container.sh run     a fresh container, BEFORE, playbooks/harden-lowmem.yml twice, AFTER; it stays up
#   demo/demo-container.sh check   the same in a container of its own, verifying what it prints; removed at the end
#   demo/demo-container.sh clean   remove the run's container and its disk volume
#   demo/demo-container.sh env     print the environment in which the commands that `run` shows work:
#                                  eval "$(demo/demo-container.sh env)"
# Needs root (rootful podman: the fake sysfs is a FUSE mount), the image
# localhost/lowmem-hardening/debian12:systemd (tests/containers/build-images.sh) and a venv with
# ansible-core and containers.podman (LOWMEM_DEMO_VENV, default .venv-molecule).
# tests/make/demo.mk sees to all three.
set -euo pipefail

mode=${1:-run}
case "$mode" in
    run | clean | env) name=lowmem-demo-droplet ;;
    check) name=lowmem-demo-check ;;
    *)
        echo "usage: $0 [run|check|clean|env]" >&2
        exit 2
        ;;
esac
# shellcheck source=demo/common.sh
. "$(dirname "$0")/common.sh"
image=localhost/lowmem-hardening/debian12:systemd
volume=$name-disk
params=/sys/module/lowmemorykiller/parameters
swapfile=/mnt/disk/swapfile

export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/tests/containers/containers.conf}
export ANSIBLE_INVENTORY=$repo/demo/inventory.ini

clean() {
    podman rm --force --ignore --time 1 "$name" >/dev/null
    podman volume rm --force "$volume" >/dev/null
    rm -rf -- "$state"
}

start() {
    clean
    link_collection
    # An idle 512 MB droplet's /proc/meminfo, with the host's swap lines: swap is kernel-wide, and
    # /proc/swaps in the container is the host's.
    awk 'NR == FNR { if ($1 == "SwapTotal:" || $1 == "SwapFree:") host[$1] = $2; next }
         $1 in host { printf "%-16s%8d kB\n", $1, host[$1]; next }
         { print }' /proc/meminfo "$repo/demo/droplet/meminfo" >"$state/meminfo"
    podman run --detach --name "$name" --hostname droplet --label lowmem-hardening.demo="$mode" \
        --systemd=always --network=none --memory=512m \
        --tmpfs /sys/module:rw,mode=0755,notmpcopyup --device /dev/fuse --cap-add SYS_ADMIN \
        --volume "$repo/tests:/opt/lowmem-hardening/tests:ro" \
        --volume "$state/meminfo:/proc/meminfo:ro" \
        --volume "$volume:/mnt/disk" \
        "$image" >/dev/null
    wait_for_boot
    podman cp "$repo/demo/droplet/kern.log" "$name:/var/log/kern.log"
    # Kept as Ubuntu keeps it, last written the morning after the kill (the year of its stamps).
    podman exec "$name" sh -c 'chown root:adm /var/log/kern.log && chmod 0640 /var/log/kern.log &&
        touch -d "2014-03-14 06:25:01" /var/log/kern.log'
}

# systemd up (its bus answers only after a moment) and the fake sysfs mounted by lowmem-fakesysfs.service.
wait_for_boot() {
    local status='' try=0 deadline=$((SECONDS + 180))  # a boot takes about a second; never wait forever
    while ((SECONDS < deadline)); do
        try=$((try + 1))
        status=$(timeout 20 podman exec "$name" systemctl is-system-running --wait 2>/dev/null) || true
        case "$status" in running | degraded) break ;; esac
        sleep 0.2
    done
    if ! podman exec "$name" sh -c 'for try in $(seq 100); do mountpoint -q "$0" && exit 0; sleep 0.1; done; exit 1' \
        "$params"; then
        echo "demo: the container did not boot with the fake sysfs (systemd: ${status:-no answer}; try $try):" >&2
        podman exec "$name" systemctl --no-pager --failed >&2 || true
        exit 1
    fi
}

swapfile_line() {
    local facts fstab signature bytes owner mode
    facts=$(podman exec "$name" stat -c '%s %U %a' "$swapfile")
    fstab=$(podman exec "$name" grep -F "$swapfile" /etc/fstab || echo 'no line')
    # mkswap's signature ends the first page.
    signature=$(podman exec "$name" dd if="$swapfile" bs=1 skip=4086 count=10 status=none)
    read -r bytes owner mode <<<"$facts"
    printf '  swap file       %s: %d MiB, %s 0%s, %s, fstab "%s";\n' "$swapfile" $((bytes / 1048576)) "$owner" "$mode" \
        "$([ "$signature" = SWAPSPACE2 ] && echo 'formatted by mkswap' || echo 'NOT formatted')" "$fstab"
    printf '                  not active: swapon needs a privileged container (lowmem_swapfile_active=false)\n'
    if [ "${#check[@]}" -gt 0 ] && { [ "$bytes" -ne 1073741824 ] || [ "$signature" != SWAPSPACE2 ]; }; then
        echo "demo-check after: NOT as expected: a formatted 1 GiB swap file at $swapfile" >&2
        return 1
    fi
}

if [ "$mode" = env ]; then
    print_env CONTAINERS_CONF ANSIBLE_CONFIG ANSIBLE_INVENTORY ANSIBLE_HOME ANSIBLE_COLLECTIONS_PATH PATH
    exit 0
fi
need_root 'rootful podman: the fake sysfs is a FUSE mount in the container'
if [ "$mode" = clean ]; then
    clean
    echo "Removed the container $name and its volume $volume."
    exit 0
fi
if ! podman image exists "$image"; then
    echo "demo: no image $image; make demo-quick builds it (tests/containers/build-images.sh)" >&2
    exit 1
fi

host_override=()
if [ "$mode" = check ]; then
    host_override=(-e "ansible_host=$name")
    trap clean EXIT
else
    trap 'status=$?; [ "$status" -eq 0 ] || echo "demo: failed; the container $name is left for a look, make demo-quick-clean removes it" >&2' EXIT
fi

start
host_mib=$(awk '$1 == "MemTotal:" { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cat <<EOF
== lowmem.hardening demo: a 512 MB droplet of 2014, stood in for by a podman container ==
  container       $name: Debian 12 booted by systemd ($image), no network
  lowmemorykiller $params is a fake sysfs (tests/fakesysfs) with the driver's defaults
  RAM             EMULATED: demo/droplet/meminfo is bind-mounted over /proc/meminfo (MemTotal 512 MiB, swap
                  totals copied from the host); the container's memory limit (cgroup) is 512 MiB; the host has $host_mib
  kern.log        /var/log/kern.log is demo/droplet/kern.log: a few kernel lines and the kill of the story
  swap disk       podman volume $volume at /mnt/disk (the overlay root cannot hold swap)
EOF

look before "${host_override[@]}" -a sources=files

playbook_twice ansible-playbook playbooks/harden-lowmem.yml "${host_override[@]}" \
    -e "lowmem_swapfile_path=$swapfile" -e lowmem_swapfile_active=false -e lowmem_swapfile_size=1G \
    -e "lowmem_fleet_report_dir=$state/lowmem-report"

look after "${host_override[@]}" -a sources=files
swapfile_line

if [ "$mode" = run ]; then
    printf '\nThe droplet stays up: podman exec -it %s bash   (make demo-quick-clean removes it and its volume)\n' "$name"
    # shellcheck disable=SC2016  # a command for the user to type
    printf 'To type the commands above yourself: eval "$(demo/demo-container.sh env)"\n'
fi
printf 'Done in %d s.\n' "$SECONDS"
