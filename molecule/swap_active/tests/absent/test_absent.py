# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After lowmem_swapfile_state=absent: swapped off everywhere, file and fstab line gone."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

# swap_checks.py is one directory up, outside this stage's pytest root.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import swap_checks as checks  # noqa: E402

testinfra_hosts = checks.instances()


def test_nothing_of_ours_is_active_in_the_container(host):
    swap_dir = os.path.dirname(checks.swapfile(host)) + '/'
    assert [name for name in checks.swap_areas(host.file('/proc/swaps').content_string) if name.startswith(swap_dir)] == []


def test_nothing_of_ours_is_active_on_the_host(host):
    swap_dir = os.path.dirname(checks.swapfile(host)) + '/'
    assert [name for name in checks.swap_areas(checks.host_proc_swaps()) if name.startswith(swap_dir)] == []


def test_the_file_and_its_fstab_line_are_gone(host):
    swapfile = checks.swapfile(host)
    assert not host.file(swapfile).exists
    assert checks.fstab_lines(host, swapfile) == []
