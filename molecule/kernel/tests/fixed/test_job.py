# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the playbook the story's job, run as before the fix, completes, and the kernel swapped while it
ran (fixed.yml, kernel-systemd)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kernel_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts('kernel-systemd')


def _vmstat(text):
    return dict((key, int(value)) for key, value in (line.split() for line in text.splitlines()))


def test_the_same_job_completes_and_swaps(host):
    saved = checks.saved('fixed', host)
    assert saved['job']['rc'] == 0, saved['job']
    assert saved['job']['stdout_lines'][-1] == 'site-build: done, 560 MiB touched'
    swapped_out = _vmstat(saved['vmstat_after'])['pswpout'] - _vmstat(saved['vmstat_before'])['pswpout']
    assert swapped_out > 0
