# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sshd trap (sshd.yml): OOMScoreAdjust=-1000 on ssh.service gives every new session -1000; oom_protect
{ssh: protect} writes no OOMScoreAdjust for ssh, OpenSSH's listener stays at -1000 by itself, a new session
has 0, and a job started from it is killed in every run."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import protect_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts()


def test_the_test_sees_the_trap(host):
    assert checks.saved('sshd', host)['trap_session_adj'] == -1000


def test_sessions_live_in_ssh_service(host):
    # No logind session (no libpam-systemd): a login's processes are ssh.service's.
    assert checks.saved('sshd', host)['session_cgroup'] == '0::/system.slice/ssh.service'


def test_oom_protect_gives_ssh_no_oom_score_adjust(host):
    saved = checks.saved('sshd', host)
    assert saved['unit_oom_score_adjust'] == '0', saved
    assert not [path for path, text in saved['dropins'].items() if checks.sets_oom_score_adjust(text)], saved['dropins']
    assert not checks.sets_oom_score_adjust(checks.dropin(host, 'ssh'))


def test_the_listener_protects_itself_and_a_new_session_does_not_inherit_it(host):
    saved = checks.saved('sshd', host)
    assert (saved['listener_adj'], saved['session_adj']) == (-1000, 0), saved


def test_a_job_started_from_a_new_session_is_killed(host):
    runs = checks.check_case('sshd', host, 'sshd-hog', victims=['batchjob', 'site-build'], killer='earlyoom',
                             adj={'memhold': -1000, 'batch': 500}, survivors=['memhold'], hog_signals=(-15, -9))
    for trial in runs:
        assert trial['session_adj'] == 0, checks.summary(trial)
