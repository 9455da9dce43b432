# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lowmemorykiller with the driver's defaults (lmk.yml): without protection it kills memhold, the
largest adj-0 process; after lowmem.hardening.oom_protect {memhold: protect, batch: prefer}, which
reaches the running processes, it kills batchjob first and site-build next, in every run."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import protect_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts()


def test_the_driver_had_its_defaults_and_no_swap(host):
    for trial in checks.trials('lmk', host):
        killers = trial['before']['killers']
        assert (killers['lmk_adj'], killers['lmk_minfree'], killers['swap_kb'], killers['earlyoom']) == \
            ('0,1,6,12', '1536,2048,4096,16384', 0, 'inactive'), killers


def test_without_protection_memhold_dies_first(host):
    checks.check_case('lmk', host, 'lmk-unprotected', victims=['memhold', 'site-build'], killer='lowmemorykiller',
                      adj={'memhold': 0, 'batch': 0}, survivors=['batch'])


def test_with_protection_batchjob_dies_first_and_memhold_lives(host):
    runs = checks.check_case('lmk', host, 'lmk-protected', victims=['batchjob', 'site-build'],
                             killer='lowmemorykiller', adj={'memhold': -1000, 'batch': 500}, survivors=['memhold'])
    for trial in runs:
        # The driver's records carry the adj it chose by.
        assert [victim['adj'] for victim in trial['victims']] == [500, 0], checks.summary(trial)


def test_oom_protect_reached_the_running_processes(host):
    saved = checks.saved('lmk', host)
    before, after = saved['running_before']['services'], saved['running_after']['services']
    assert [before[unit]['adj'] for unit in ('memhold', 'batch')] == [0, 0]
    # The same processes, not restarted, with the new values.
    units = ('memhold', 'batch')
    assert [after[unit]['pid'] for unit in units] == [before[unit]['pid'] for unit in units]
    assert [after[unit]['adj'] for unit in ('memhold', 'batch')] == [-1000, 500]
    assert saved['first']['changed'] is True
    assert saved['again']['changed'] is False, saved['again']


def test_the_dropins_hold_the_levels(host):
    for unit, level in (('memhold', 'protect'), ('batch', 'prefer')):
        text = checks.dropin(host, unit)
        assert text is not None, unit
        assert '[Service]' in text.splitlines()
        assert 'OOMScoreAdjust=%d' % checks.SCORE_ADJUST[level] in text.splitlines()
        assert host.check_output('systemctl show --property=OOMScoreAdjust --value %s.service' % unit) == \
            str(checks.SCORE_ADJUST[level])
