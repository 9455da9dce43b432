# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the role with a 64M swap file swapped on: active in the container and, kernel-wide, on the host."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

# swap_checks.py is one directory up, outside this stage's pytest root.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import swap_checks as checks  # noqa: E402

testinfra_hosts = checks.instances()


def test_the_swap_file_is_active_in_the_container(host):
    swapfile = checks.swapfile(host)
    assert checks.swap_areas(host.file('/proc/swaps').content_string).get(swapfile) == checks.usable_kib(host, 64)


def test_the_host_has_it_too(host):
    assert checks.swap_areas(checks.host_proc_swaps()).get(checks.swapfile(host)) == checks.usable_kib(host, 64)


def test_the_file_and_its_fstab_line(host):
    swapfile = checks.swapfile(host)
    f = host.file(swapfile)
    assert (f.user, f.group, f.mode, f.size) == ('root', 'root', 0o600, 64 << 20)
    assert checks.fstab_lines(host, swapfile) == ['%s none swap sw 0 0' % swapfile]
