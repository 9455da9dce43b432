# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every stage verifier of the protect scenario shares: the VM and the saved results (the kernel
scenario's kernel_checks), the kill trials of a stage (tasks/trial.yml, trials-STAGE.jsonl) and the
judgement of one case: every run gave the expected victims, by the expected killer, and the services
that had to live did."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                'kernel', 'tests'))

import kernel_checks  # noqa: E402  pylint: disable=wrong-import-position

hosts = kernel_checks.hosts
name = kernel_checks.name
saved = kernel_checks.saved
boot_id = kernel_checks.boot_id
EPHEMERAL = kernel_checks.EPHEMERAL

RUNS = 3
DROPIN = '/etc/systemd/system/%s.service.d/lowmem-protect.conf'
# What the collection writes for each level (plugins/module_utils/oom_protect.py).
SCORE_ADJUST = {'protect': -1000, 'avoid': -500, 'prefer': 500}


def trials(stage, host, case=None):
    """The trials of a stage on this host (of one case when given), in the order they ran."""
    with open(os.path.join(EPHEMERAL, 'trials-%s.jsonl' % stage)) as f:
        found = [json.loads(line) for line in f if line.strip()]
    return [trial for trial in found if trial['host'] == name(host) and (case is None or trial['case'] == case)]


def summary(trial):
    """One line per trial for assertion messages: who died, by which killer, how long it took."""
    return '%s run %d: hog rc %s after %.1f s, victims %s' % (
        trial['case'], trial['run'], trial['hog']['rc'], trial['hog']['seconds'],
        ', '.join('%s (%s, adj %s)' % (v['comm'], v['killer'], v.get('adj', '?')) for v in trial['victims']))


def survived(trial, unit):
    """The unit's main process of before the hog is its main process after it, and it is running."""
    before, after = trial['before']['services'][unit], trial['after']['services'][unit]
    return before['pid'] != 0 and after['pid'] == before['pid'] and after['active'] == 'active'


def check_case(stage, host, case, victims, killer, adj, survivors, hog_signals=(-9,)):
    """Every run of a case: the services started with `adj` ({unit: oom_score_adj}), the hog was killed
    (rc one of hog_signals: Ansible reports death by signal N as rc -N), `victims` (process names, in
    order) died, each by `killer`, and each unit of `survivors` kept its process."""
    runs = trials(stage, host, case)
    assert len(runs) == RUNS, [summary(trial) for trial in runs]
    for trial in runs:
        assert dict((unit, service['adj']) for unit, service in trial['before']['services'].items()) == adj, \
            trial['before']
        assert trial['hog']['rc'] in hog_signals, summary(trial)
        assert [victim['comm'] for victim in trial['victims']] == victims, summary(trial)
        assert set(victim['killer'] for victim in trial['victims']) == set([killer]), summary(trial)
        # The hog's own record names the pid it printed.
        assert trial['hog']['pid'] in [victim['pid'] for victim in trial['victims']], summary(trial)
        for unit in survivors:
            assert survived(trial, unit), (unit, summary(trial), trial['after']['services'][unit])
    return runs


def dropin(host, unit):
    """The drop-in oom_protect writes for a unit, as text (None when there is none)."""
    found = host.file(DROPIN % unit)
    return found.content_string if found.exists else None


def sets_oom_score_adjust(text):
    """Whether a unit file or drop-in sets OOMScoreAdjust= (comments may name it, as oom_protect's ssh drop-in
    does to say why it sets none)."""
    return any(line.strip().startswith('OOMScoreAdjust=') for line in (text or '').splitlines())


def main_pid_adj(host, unit):
    """(pid, oom_score_adj) of a unit's running main process."""
    pid = int(host.check_output('systemctl show --property=MainPID --value %s.service' % unit))
    assert pid, '%s.service has no main process' % unit
    return pid, int(host.file('/proc/%d/oom_score_adj' % pid).content_string)
