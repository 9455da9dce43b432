# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel OOM killer alone (oom.yml: lowmemorykiller state=disabled, no swap): without protection it
kills memhold, the process of the highest badness; with it, batchjob (500) first, then site-build, and
memhold (-1000) lives, in every run."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import protect_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts()


def test_only_the_oom_killer_was_there(host):
    assert checks.saved('oom', host)['lowmemorykiller']['disabled'] is True
    for trial in checks.trials('oom', host):
        killers = trial['before']['killers']
        assert (killers['lmk_adj'], killers['lmk_minfree'], killers['swap_kb'], killers['earlyoom']) == \
            ('9999', '1', 0, 'inactive'), killers


def test_without_protection_memhold_dies_first(host):
    runs = checks.check_case('oom', host, 'oom-unprotected', victims=['memhold', 'site-build'], killer='oom-killer',
                             adj={'memhold': 0, 'batch': 0}, survivors=['batch'])
    for trial in runs:
        # systemd saw the kernel's kill in the cgroup's memory.events.
        assert trial['after']['services']['memhold']['result'] == 'oom-kill', trial['after']


def test_with_protection_batchjob_dies_first_and_memhold_lives(host):
    runs = checks.check_case('oom', host, 'oom-protected', victims=['batchjob', 'site-build'], killer='oom-killer',
                             adj={'memhold': -1000, 'batch': 500}, survivors=['memhold'])
    for trial in runs:
        assert [victim['adj'] for victim in trial['victims']] == [500, 0], checks.summary(trial)
        assert trial['after']['services']['batch']['result'] == 'oom-kill', trial['after']
