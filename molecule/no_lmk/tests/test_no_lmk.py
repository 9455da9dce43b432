# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A kernel without lowmemorykiller: the role says so once, and does swap and sysctl all the same."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import re

import yaml

SWAPFILE = '/mnt/disk/swapfile'
SYSCTL_FILE = '/etc/sysctl.d/60-lowmem-hardening.conf'
BOOT_FILES = ['/etc/tmpfiles.d/lowmemorykiller.conf', '/etc/sysfs.d/lowmemorykiller.conf',
              '/etc/local.d/lowmemorykiller.start', '/etc/cron.d/lowmemorykiller']
ROLE = 'lowmem.hardening.lowmem : '


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def _role_runs():
    """The runs of the role since the containers were created, in order: {host: [record]} each.

    From the lowmem_test_results callback's file, which keeps the runs of earlier tests too.
    """
    runs = {}
    with open(os.environ['LOWMEM_TEST_RESULTS']) as f:
        for line in f:
            record = json.loads(line)
            if record['playbook'] == 'create.yml':
                runs = {}
            elif record['task'].startswith(ROLE):
                runs.setdefault(record['run'], {}).setdefault(record['host'], []).append(record)
    return list(runs.values())


def _task(records, name):
    found = [r for r in records if r['task'] == ROLE + name]
    assert len(found) == 1, name
    return found[0]


def _name(host):
    return host.backend.get_hostname()


def test_the_kernel_really_has_no_driver(host):
    assert not host.file('/sys/module/lowmemorykiller').exists


def test_converge_and_idempotence_each_say_once_that_the_driver_is_absent(host):
    runs = _role_runs()
    # `molecule test` makes exactly two: converge and idempotence (more after a converge by hand).
    assert len(runs) >= 2, 'expected the converge and the idempotence run, found %d runs' % len(runs)
    for records in runs:
        said = [line for record in records[_name(host)] for line in record['said']]
        # Whatever the role shows about lowmemorykiller at the default verbosity (the report,
        # warnings, failures): one line, and it says that the driver is not there.
        about_lmk = [line for line in said if 'lowmemorykiller' in line.lower()]
        assert len(about_lmk) == 1, said
        assert re.search(r'\bnot present\b', about_lmk[0]), about_lmk


def test_the_lowmemorykiller_step_succeeds_without_change(host):
    for records in _role_runs():
        result = _task(records[_name(host)], "Lowmemorykiller | Make the driver's thresholds what lowmem_lmk_state asks")
        assert result['status'] == 'ok', result
        assert result['result']['present'] is False
        assert result['said'] == []


def test_no_run_failed_and_the_second_changed_nothing(host):
    converge, idempotence = _role_runs()[:2]
    assert not [r for r in converge[_name(host)] + idempotence[_name(host)] if r['status'] == 'failed']
    assert [r['task'] for r in idempotence[_name(host)] if r['changed']] == []


def test_nothing_of_lowmemorykiller_was_written(host):
    for path in BOOT_FILES + ['/var/lib/lowmem-hardening']:
        assert not host.file(path).exists, path


def test_swapfile_is_made_but_not_active(host):
    swapfile = host.file(SWAPFILE)
    assert swapfile.is_file and swapfile.size == 64 * 1024 * 1024
    assert (swapfile.user, swapfile.mode) == ('root', 0o600)
    page_size = int(host.check_output('getconf PAGESIZE'))
    assert host.check_output('dd if=%s bs=1 skip=%d count=10 status=none' % (SWAPFILE, page_size - 10)) == 'SWAPSPACE2'
    assert SWAPFILE not in host.file('/proc/swaps').content_string
    converge = _role_runs()[0][_name(host)]
    result = _task(converge, 'Swap file | Make the swap file what lowmem_swapfile_state asks')['result']
    assert (result['created'], result['active'], result['path']) == (True, False, SWAPFILE)


def test_sysctl_file_is_written_and_the_runtime_values_reported_as_not_applied(host):
    lines = [line for line in host.file(SYSCTL_FILE).content_string.splitlines() if line and not line.startswith('#')]
    assert sorted(lines) == ['vm.swappiness = 10', 'vm.vfs_cache_pressure = 50']
    converge = _role_runs()[0][_name(host)]
    sysctl = _task(converge, 'Sysctl | Apply lowmem_sysctl now and persist it in /etc/sysctl.d')
    assert sorted(sysctl['result']['not_applied']) == ['vm.swappiness', 'vm.vfs_cache_pressure']
    assert len(sysctl['said']) == 1 and 'vm.swappiness, vm.vfs_cache_pressure' in sysctl['said'][0], sysctl['said']
