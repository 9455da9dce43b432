# shellcheck shell=bash
# What demo/demo-vm.sh (make demo) and demo/demo-container.sh (make demo-quick) share; sourced, not run.
# Before sourcing, a script sets `mode` (run, check, clean or env) and `name` (its state directory's name,
# build/demo/NAME). Afterwards the script's commands run in the checkout, with Ansible set up for the demo:
# demo/ansible.cfg, its own ANSIBLE_HOME, the checkout itself as the collection lowmem.hardening, then
# containers.podman and ansible-core from LOWMEM_DEMO_VENV (default .venv-molecule). The script exports
# ANSIBLE_INVENTORY.
# shellcheck disable=SC2154  # mode and name come from the script that sources this file
# shellcheck disable=SC2034  # state_shown and check are that script's too

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
venv=${LOWMEM_DEMO_VENV:-$repo/.venv-molecule}
# What the target needs from the host and Ansible's own files: removed by clean.
state=$repo/build/demo/$name
# The same, as the commands shown to the user spell it (they run in the checkout).
state_shown=${state#"$repo"/}

export ANSIBLE_CONFIG=$repo/demo/ansible.cfg
export ANSIBLE_HOME=$state/ansible-home
# The checkout itself is the collection under test (linked by link_collection), then containers.podman.
export ANSIBLE_COLLECTIONS_PATH=$state/collections:$venv/collections
export PATH=$venv/bin:$PATH

# check: report.py verifies each view; a non-empty array means `check` mode.
check=()
if [ "$mode" = check ]; then
    check=(--check)
fi

link_collection() {
    mkdir -p "$state/collections/ansible_collections/lowmem"
    ln -sfn "$repo" "$state/collections/ansible_collections/lowmem/hardening"
}

# `env` mode: the environment in which the commands the demo shows work, as export lines, then a cd.
print_env() {
    local variable
    for variable in "$@"; do
        printf 'export %s=%q\n' "$variable" "${!variable}"
    done
    printf 'cd %q\n' "$repo"
}

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "demo: needs root ($1)" >&2
        exit 1
    fi
}

# Runs and shows a command, as the user would type it (settings come from the environment above).
shown() {
    printf '\n$ %s\n' "$*"
    "$@"
}

# BEFORE or AFTER: what lowmemorykiller_info finds, formatted by demo/report.py.
#   look WHEN [OPTION OF ansible...] [-- OPTION OF report.py...]
look() {
    local when=$1 ansible_args=() report_args=()
    shift
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        ansible_args+=("$1")
        shift
    done
    [ "$#" -eq 0 ] || shift
    report_args=("$@")
    local command=(ansible droplet -m lowmem.hardening.lowmemorykiller_info "${ansible_args[@]}")
    printf '\n$ %s\n' "${command[*]}"
    "${command[@]}" | python3 "$repo/demo/report.py" "$when" "${report_args[@]}" "${check[@]}"
}

# The playbook as given, shown with its output, then again: the second run must change nothing.
playbook_twice() {
    local output recap changed
    shown "$@"
    printf '\n$ %s   # again: is anything left to change?\n' "$*"
    output=$("$@" 2>&1) || { echo "$output"; echo 'demo: the second run failed' >&2; return 1; }
    recap=$(grep -E '^droplet +:' <<<"$output") || { echo "$output"; echo 'demo: no recap for droplet' >&2; return 1; }
    changed=$(sed -E 's/.* changed=([0-9]+).*/\1/' <<<"$recap")
    echo "second run: changed=$changed$([ "$changed" -eq 0 ] && echo ', nothing left to change')   ($(tr -s ' ' <<<"${recap#*: }" | cut -d' ' -f1-4))"
    if [ "${#check[@]}" -gt 0 ] && [ "$changed" -ne 0 ]; then
        echo 'demo-check: NOT as expected: the second run changes nothing' >&2
        return 1
    fi
}
