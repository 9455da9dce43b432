# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After playbooks/harden-lowmem.yml with the role's defaults: swap really on, the sysctls applied at
runtime, the driver disabled, and the same job completes, swapping (fixed.yml)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kernel_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts()


def test_the_driver_is_disabled(host):
    assert checks.parameters(host) == dict(checks.DEFAULTS, adj='9999\n', minfree='1\n')


def test_the_swap_file_is_really_in_use_as_the_kernel_shows(host):
    mem_total_kb = checks.meminfo(host)['MemTotal']
    active = [(path, size_kb) for path, size_kb, dummy in checks.swaps(host)]
    assert [path for path, dummy in active] == ['/swapfile']
    # size: auto is 2 x RAM on a host with up to 2 GiB of RAM, rounded down to a MiB (less a header page).
    assert abs(active[0][1] - 2 * mem_total_kb) < 2 * 1024
    assert checks.meminfo(host)['SwapTotal'] == active[0][1]


def test_the_sysctls_are_applied_at_runtime(host):
    assert host.file('/proc/sys/vm/swappiness').content_string == '10\n'
    assert host.file('/proc/sys/vm/vfs_cache_pressure').content_string == '50\n'
