#!/usr/bin/env bash
# `make demo`: the collection's main job on a 512 MB droplet of 2014, played on a real kernel: a QEMU VM of
# Debian 12 (tests/kernel) whose lowmemorykiller really kills the build-like job `site-build`, before and
# after playbooks/harden-lowmem.yml.
#   demo/demo-vm.sh run     a VM with a fresh overlay, BEFORE, site-build killed, the playbook twice, AFTER,
#                           site-build completing with swap; the VM stays up
#   demo/demo-vm.sh check   the same in a VM of its own, failing at any step that is not what the demo says;
#                           the VM is stopped at the end
#   demo/demo-vm.sh clean   stop the run's VM and remove its directory
#   demo/demo-vm.sh env     print the environment in which the commands that `run` shows work:
#                           eval "$(demo/demo-vm.sh env)"
# Needs root (the VMs' key and disks in build/kernel are root's), what `make kernel-vm-build` builds
# (tests/kernel/build.sh) and a venv with ansible-core (LOWMEM_DEMO_VENV, default .venv-molecule).
# tests/make/demo.mk sees to all of them. `make demo-quick` plays the same story in seconds on a
# container with a fake sysfs (demo/demo-container.sh).
set -euo pipefail

mode=${1:-run}
case "$mode" in
    run | clean | env) name=droplet ;;
    check) name=droplet-check ;;
    *)
        echo "usage: $0 [run|check|clean|env]" >&2
        exit 2
        ;;
esac
# shellcheck source=demo/common.sh
. "$(dirname "$0")/common.sh"
# tests/kernel/vm.py's directory for the VM: overlay, console.log, vm.json.
vm_dir=$state/vm
export ANSIBLE_INVENTORY=$state/inventory.ini
# ssh to the droplet, as the demo shows it and as it runs it (stdin closed: make test runs without one).
ssh_shown="ssh -F $state_shown/ssh_config droplet"
job_timeout=600  # the job takes seconds; a guest that hangs must not hang the demo
killed_before=0  # kill records in the kernel log after the first site-build

clean() {
    # Should vm.py fail, QEMU is still stopped (by its pid) before its directory goes.
    python3 tests/kernel/vm.py stop "$vm_dir" ||
        { [ ! -s "$vm_dir/qemu.pid" ] || kill "$(cat "$vm_dir/qemu.pid")" 2>/dev/null || true; }
    rm -rf -- "$state"
}

# mib COUNT [UNIT]: COUNT units of UNIT bytes (default 1) in MiB, as "150.1 MiB".
mib() {
    awk -v count="$1" -v unit="${2:-1}" 'BEGIN { printf "%.1f MiB", count * unit / 1048576 }'
}

guest() {
    ssh -F "$state/ssh_config" droplet "$@" </dev/null
}

# Shows a command run on the droplet over ssh, runs it, and tees its output (stdout and stderr) into
# $state/last.log; returns ssh's status.
shown_ssh() {
    local status=0
    printf "\n\$ %s '%s'\n" "$ssh_shown" "$1"
    if timeout "$job_timeout" ssh -F "$state/ssh_config" droplet "$1" </dev/null 2>&1 | tee "$state/last.log"; then
        status=0
    else
        status=${PIPESTATUS[0]}
    fi
    return "$status"
}

# A step that is not what the demo says: the end of `check`, a warning in `run`.
failed() {
    if [ "${#check[@]}" -gt 0 ]; then
        echo "demo-check $1: NOT as expected: $2" >&2
        exit 1
    fi
    echo "demo $1: not what the demo says: $2" >&2
}

start() {
    local boot facts
    clean
    link_collection
    boot=$(python3 tests/kernel/vm.py start "$vm_dir" --name droplet)
    boot_seconds=$(sed -nE 's/.*, ([0-9.]+) s after QEMU started.*/\1/p' <<<"$boot")
    python3 tests/kernel/vm.py inventory "$vm_dir" >"$state/inventory.ini"
    # One SSH connection for the demo's ssh commands (each new one costs a second or more under TCG). The
    # master exits when idle for a minute, or with the VM.
    { python3 tests/kernel/vm.py ssh-config "$vm_dir"
      printf '  ControlMaster auto\n  ControlPath %s/ssh-%%C\n  ControlPersist 60\n' "$state"; } >"$state/ssh_config"
    # The disk's hostname is kernel-vm; the droplet's kernel lines then carry its name, as in the story.
    facts=$(guest 'hostname droplet && echo droplet >/etc/hostname && uname -r && getconf PAGESIZE &&
        grep "^MemTotal:" /proc/meminfo')
    { read -r kernel && read -r page_size && read -r _ mem_total_kb _; } <<<"$facts"
}

# site-build, as a user runs it on the droplet; sets job_output, job_status (ssh's), job_pid and job_seconds.
run_job() {
    local started=$SECONDS
    job_status=0
    shown_ssh 'site-build; echo "exit status: $?"' || job_status=$?
    job_seconds=$((SECONDS - started))
    job_output=$(cat "$state/last.log")
    job_pid=$(sed -nE 's/^site-build: pid ([0-9]+),.*/\1/p' <<<"$job_output")
    if [ -z "$job_pid" ]; then
        failed "$1" 'site-build starts and names its pid'
        job_pid=unknown
    fi
}

# What the kernel logged about the kills: shown, then told in a few lines.
kernel_lines() {
    local lines victim others
    # The records of lowmemorykiller and of the kernel's OOM killer.
    shown_ssh 'journalctl -k --no-pager --grep "send sigkill|Killed process"' || true
    lines=$(grep -E 'send sigkill to |Killed process' "$state/last.log" || true)
    victim=$(grep -E "send sigkill to $job_pid \\(site-build\\), adj " <<<"$lines" || true)
    if [ -z "$victim" ]; then
        failed before "lowmemorykiller's record of the kill of site-build (pid $job_pid) in the journal"
        guest 'journalctl -k --no-pager -n 30' >&2 || true
        return 0
    fi
    killed_before=$(grep -c . <<<"$lines")
    # The kill records after site-build's, as COMM (pid PID, adj ADJ), ...
    others=$(sed -n "/send sigkill to $job_pid (site-build)/,\$p" <<<"$lines" | tail -n +2 \
        | sed -nE 's/.*send sigkill to ([0-9]+) \(([^)]*)\), adj (-?[0-9]+).*/\2 (pid \1, adj \3)/p' \
        | paste -sd';' - | sed 's/;/, /g')
    printf 'site-build was killed after %d s: lowmemorykiller sent SIGKILL to pid %s (adj 0, %s resident).\n' \
        "$job_seconds" "$job_pid" "$(mib "$(sed -E 's/.*, size ([0-9]+).*/\1/' <<<"$victim")" "$page_size")"
    if [ -n "$others" ]; then
        printf 'It went on to kill %s.\n' "$others"
        failed before 'lowmemorykiller kills site-build alone (it waits for a victim to die before choosing again)'
    fi
    if grep -qx 'exit status: 137' <<<"$job_output"; then
        echo 'Its shell saw it: Killed, exit status 137 (128 + SIGKILL).'
    else
        failed before "site-build exits 137 (Killed) in the shell that ran it (ssh's exit status: $job_status)"
    fi
}

# Swap after site-build completed: what /proc/swaps and the kernel's swap-out counter say.
swap_used() {
    local swaps pswpout used_kb size_kb killed_after
    shown_ssh 'cat /proc/swaps; grep -E "^pswp(in|out) " /proc/vmstat'
    swaps=$(cat "$state/last.log")
    pswpout=$(awk '$1 == "pswpout" { print $2 }' <<<"$swaps")
    read -r size_kb used_kb < <(awk '$1 == "/swapfile" { print $3, $4 }' <<<"$swaps")
    killed_after=$(guest 'journalctl -k -q --no-pager --grep "send sigkill|Killed process" | wc -l')
    printf 'Swap used: site-build pushed %s out to /swapfile (%s) while it ran; %s is still in use.\n' \
        "$(mib "$((pswpout - pswpout_before))" "$page_size")" "$(mib "${size_kb:-0}" 1024)" \
        "$(mib "${used_kb:-0}" 1024)"
    [ "$((pswpout - pswpout_before))" -gt 0 ] || failed after 'site-build pushed pages out to swap'
    if [ "$((killed_after))" -eq "$killed_before" ]; then
        printf 'Nothing was killed: the kernel log holds the same %d kill record(s) as before the playbook.\n' \
            "$killed_before"
    else
        failed after "nothing is killed while site-build runs ($((killed_after - killed_before)) new kill records)"
    fi
}

if [ "$mode" = env ]; then
    print_env ANSIBLE_CONFIG ANSIBLE_INVENTORY ANSIBLE_HOME ANSIBLE_COLLECTIONS_PATH PATH
    exit 0
fi
need_root "the VMs' SSH key and disks in build/kernel are root's"
if [ "$mode" = clean ]; then
    clean
    echo "Stopped the VM droplet and removed $state_shown."
    exit 0
fi

if [ "$mode" = check ]; then
    trap clean EXIT
else
    trap 'status=$?; [ "$status" -eq 0 ] ||
        echo "demo: failed; the VM droplet is left for a look ($ssh_shown), make demo-clean stops it" >&2' EXIT
fi

start
cat <<EOF
== lowmem.hardening demo: a 512 MB droplet of 2014, played on a real kernel in a QEMU VM ==
  VM              droplet ($state_shown/vm): Debian 12 booted by systemd from a fresh overlay of
                  build/kernel/disk-vm.img; QEMU TCG, one vCPU, 512 MiB; SSH up ${boot_seconds:-?} s after QEMU started
  kernel          Linux $kernel (Debian's cloud kernel) with tests/kernel/lowmemorykiller, a test
                  reproduction of Android's driver, loaded before PID 1 with its defaults
  RAM             MemTotal $(mib "$mem_total_kb" 1024), what the kernel leaves of 512 MiB; no swap
  the job         /usr/local/bin/site-build, a stand-in for a build: allocates and touches 560 MiB in 8 MiB steps
  ssh, ansible    root with the key build/kernel/id_ed25519: $state_shown/ssh_config, $state_shown/inventory.ini
EOF

look before -- --vm

run_job before
if grep -q '^site-build: done' <<<"$job_output"; then
    failed before 'site-build is killed'
fi
kernel_lines

playbook_twice ansible-playbook playbooks/harden-lowmem.yml -e "lowmem_fleet_report_dir=$state/lowmem-report"

look after -- --vm --job-pid "$job_pid"

pswpout_before=$(guest 'grep "^pswpout " /proc/vmstat' | cut -d' ' -f2)
run_job after
if ! grep -q '^site-build: done' <<<"$job_output" || ! grep -qx 'exit status: 0' <<<"$job_output"; then
    failed after 'site-build completes, exit status 0'
fi
echo "site-build completed in $job_seconds s."
swap_used

if [ "$mode" = run ]; then
    printf '\nThe droplet stays up: %s   (make demo-clean stops it)\n' "$ssh_shown"
    # shellcheck disable=SC2016  # a command for the user to type
    printf 'To type the commands above yourself: eval "$(demo/demo-vm.sh env)"\n'
fi
printf 'Done in %d s.\n' "$SECONDS"
