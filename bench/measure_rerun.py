# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measurement 2: the role's idempotent re-run next to the naive baseline (bench/baselines/naive-lowmem.yml)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

from runner import BenchError, compared, counted, interleave, summary
from testbed import IMAGE_SSH, PODMAN_BECOME, PODMAN_HOST, is_active_swap, parse_mib, swapoff_active

NAIVE_PLAYBOOK = 'bench/baselines/naive-lowmem.yml'


def measure(bench):
    sizes = bench.sizes
    role, naive = bench.name('m2-role'), bench.name('m2-naive')
    swaps = {}
    for name in (role, naive):
        disk = bench.disk(name)
        swaps[name] = bench.swap_paths(name, disk)
        bench.start(name, IMAGE_SSH, 'cron', disk=disk, swap=True)
    bench.wait_booted([role, naive], systemd=False)
    # vm.* sysctls are not namespaced: the containers write what the host already has, so the
    # host is never changed, and both sides still read, compare and write /proc/sys for real.
    sysctls = dict((name, host_sysctl(name)) for name in ('vm.swappiness', 'vm.vfs_cache_pressure'))
    inventory = bench.inventory('m2.yml', {
        'role': {role: {'lowmem_swapfile_path': swaps[role][1], 'lowmem_swapfile_size': sizes['role_swap_size'],
                        'lowmem_swapfile_active': True, 'lowmem_sysctl': sysctls}},
        'naive': {naive: {}},
    }, dict(PODMAN_HOST, **PODMAN_BECOME))
    # Extra vars: the baseline's play vars outrank inventory.
    naive_vars = bench.write(os.path.join(bench.run_dir, 'm2-naive-vars.json'), json.dumps(
        {'naive_swapfile': swaps[naive][1], 'naive_swapfile_mb': parse_mib(sizes['role_swap_size']),
         'naive_sysctl': sysctls}) + '\n')
    argvs = dict(role=['-i', inventory, bench.harden, '--limit', 'role'],
                 naive=['-i', inventory, NAIVE_PLAYBOOK, '--limit', 'naive', '-e', '@' + naive_vars])
    # First runs put everything in place (swap files created and swapped on); not measured.
    bench.playbook(argvs['role'])
    bench.playbook(argvs['naive'])
    changed = {'role': [], 'naive': []}

    def run(key):
        def once():
            seconds, results = bench.playbook(argvs[key], timed=True)
            changed[key].append(sum(1 for result in results if result['changed']))
            return seconds
        return once
    samples = interleave(sizes['runs'], [('role', run('role')), ('naive', run('naive'))])
    calls = dict((key, bench.count_calls(argvs[key], playbook=True)) for key in ('role', 'naive'))
    active = dict((name, is_active_swap(swaps[name][0])) for name in (role, naive))
    swapoff_active(bench.shell, [swaps[name][0] for name in (role, naive)])
    bench.remove_containers([role, naive])
    if not all(active.values()):
        raise BenchError('a swap file was not active after the runs: %s' % active)
    return measurement_result(sizes, samples, calls, changed, sysctls)


def measurement_result(sizes, samples, calls, changed, sysctls):
    rows = [
        compared('idempotent re-run, wall (s)', 'role lowmem (playbooks/harden-lowmem.yml)', summary(samples['role']),
                 'naive (bench/baselines/naive-lowmem.yml)', summary(samples['naive'])),
        counted('podman calls per run', 'role', calls['role']['podman_calls'], 'naive', calls['naive']['podman_calls']),
        counted('module runs per run', 'role', calls['role']['module_runs'], 'naive', calls['naive']['module_runs']),
        counted('changed tasks per run', 'role', every_run(changed['role']), 'naive', every_run(changed['naive'])),
    ]
    return dict(
        id='2', title='The role\'s idempotent re-run (everything in place) vs a naive task-per-step baseline',
        target='role <= 0.6x naive, 0 changed tasks',
        met=rows[0]['ratio'] <= 0.6 and not any(changed['role']), rows=rows,
        notes=['Both in containers allowed to swap on and write /proc/sys (CAP_SYS_ADMIN, seccomp unconfined, '
               '/proc/sys unmasked; booted without systemd, cron as the boot-time mechanism), each with a %s swap '
               'file on a bind-mounted ext4 directory, swapped on for real and off again at the end.'
               % sizes['role_swap_size'],
               'sysctl values are the host\'s own (%s), because vm.* is kernel-wide: nothing on the host changes.'
               % ', '.join('%s=%s' % item for item in sorted(sysctls.items()))],
    )


def host_sysctl(name):
    with open('/proc/sys/' + name.replace('.', '/')) as value:
        return int(value.read().split()[0])


def every_run(values):
    return '%d in every run' % values[0] if len(set(values)) == 1 else ', '.join(str(value) for value in values)
