# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Android's oom_adj autodetection on the real kernel (semantics.yml, kernel-android): what the kernel
reads back after the module's writes, and a second run that changes nothing."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kernel_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts('kernel-android')


@pytest.mark.parametrize('case, converted', [('other', '0,117,235,470\n'), ('android', '0,58,352,705\n')])
def test_android_kernel_converts_adj_and_a_second_run_changes_nothing(host, case, converted):
    result = checks.case(host, case)
    assert result['run']['changed'] is True
    assert checks.parameter_files(result['after_run'])['adj'] == converted
    assert checks.joined(result['run']['after']['adj']) == converted
    assert result['again']['changed'] is False
    assert result['after_again'] == result['after_run']


def test_android_kernel_restored_shows_what_writing_the_saved_values_gives(host):
    result = checks.case(host, 'restored')
    # The values saved before the first change are the driver's own, 0,1,6,12; written back, the kernel
    # converts them like any other write.
    shown = checks.parameter_files(result['after_run'])
    assert shown == dict(checks.DEFAULTS, adj='0,58,352,705\n')
    assert checks.joined(result['run']['after']['adj']) == shown['adj']
    assert result['again']['changed'] is False
    assert checks.parameters(host) == shown
