#!/bin/sh
# Main process of a test container that boots like a host without systemd:
# the fake lowmemorykiller sysfs first (the kernel's parameters exist before
# any init script runs), then cron in the foreground, which runs the @reboot
# jobs of /etc/cron.d at every start. molecule/resources/create.yml gives such
# a container a tmpfs on /run, so cron's once-per-boot marker is gone after
# `podman restart`, as after a real reboot.
#   boot-cron.sh [FAKESYSFS_OPTION...]   options for fakesysfs.py, e.g. --android
#   boot-cron.sh --no-lmk                a kernel without the driver: cron only
set -eu
mount=/sys/module/lowmemorykiller/parameters
if [ "${1:-}" = --no-lmk ]; then
    exec cron -f
fi
/usr/bin/python3 /opt/lowmem-hardening/tests/fakesysfs/fakesysfs.py "$@" "$mount" &
tries=0
until mountpoint -q "$mount"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ]; then
        echo "boot-cron.sh: the fake sysfs was not mounted at $mount" >&2
        exit 1
    fi
    sleep 0.05
done
exec cron -f
