# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The unit tests compare the kernel model with the real kernel's answers recorded in
tests/unit/plugins/modules/fixtures/param_writes.json; on a fresh plain driver (semantics.yml,
kernel-openrc) every write of that table must still get its recorded answer."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kernel_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts('kernel-openrc')


def test_every_recorded_write_gets_the_recorded_answer(host):
    verdict = checks.saved('probe', host)
    assert verdict['rc'] == 0, verdict['stderr']
