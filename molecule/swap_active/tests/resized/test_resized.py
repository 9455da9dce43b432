# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After resizing the active swap file to 96M: the new size is active, in the container and on the host."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

# swap_checks.py is one directory up, outside this stage's pytest root.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import swap_checks as checks  # noqa: E402

testinfra_hosts = checks.instances()


def test_the_resized_file_is_active_in_the_container(host):
    swapfile = checks.swapfile(host)
    areas = checks.swap_areas(host.file('/proc/swaps').content_string)
    assert areas.get(swapfile) == checks.usable_kib(host, 96)
    # Nothing else of ours (a temporary of the resize) is left active.
    assert [name for name in areas if name.startswith(os.path.dirname(swapfile) + '/')] == [swapfile]


def test_the_host_has_the_new_size_too(host):
    swapfile = checks.swapfile(host)
    areas = checks.swap_areas(checks.host_proc_swaps())
    assert areas.get(swapfile) == checks.usable_kib(host, 96)
    assert [name for name in areas if name.startswith(os.path.dirname(swapfile) + '/')] == [swapfile]


def test_the_file_has_the_new_size_and_one_fstab_line(host):
    swapfile = checks.swapfile(host)
    f = host.file(swapfile)
    assert (f.user, f.mode, f.size) == ('root', 0o600, 96 << 20)
    assert checks.fstab_lines(host, swapfile) == ['%s none swap sw 0 0' % swapfile]
    assert host.file(os.path.dirname(swapfile)).listdir() == ['swapfile']
