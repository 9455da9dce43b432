# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After a real reboot (reboot.yml) the drop-ins hold: memhold and batchjob, started at boot, have -1000 and
500, earlyoom started with our --avoid/--prefer, ssh has no OOMScoreAdjust, its listener -1000 and a new
session 0."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import protect_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts()


def test_this_is_a_new_boot(host):
    assert checks.boot_id(host) != checks.saved('reboot-protect', host)['boot_id']


def test_the_dropins_are_there(host):
    for unit, level in (('memhold', 'protect'), ('batch', 'prefer')):
        text = checks.dropin(host, unit)
        assert text is not None and 'OOMScoreAdjust=%d' % checks.SCORE_ADJUST[level] in text.splitlines(), text


def test_the_services_started_at_boot_with_their_values(host):
    assert checks.main_pid_adj(host, 'memhold')[1] == -1000
    assert checks.main_pid_adj(host, 'batch')[1] == 500
    assert host.file('/proc/%d/comm' % checks.main_pid_adj(host, 'memhold')[0]).content_string == 'memhold\n'


def test_earlyoom_started_with_our_expressions(host):
    pid, dummy = checks.main_pid_adj(host, 'earlyoom')
    argv = host.file('/proc/%d/cmdline' % pid).content_string.split('\0')[:-1]
    avoid = argv[argv.index('--avoid') + 1]
    prefer = argv[argv.index('--prefer') + 1]
    assert re.search(avoid, 'memhold') and not re.search(avoid, 'batchjob'), argv
    assert re.search(prefer, 'batchjob') and not re.search(prefer, 'memhold'), argv


def test_ssh_has_no_oom_score_adjust_and_sessions_get_zero(host):
    assert host.check_output('systemctl show --property=OOMScoreAdjust --value ssh.service') == '0'
    assert not checks.sets_oom_score_adjust(checks.dropin(host, 'ssh'))
    assert checks.main_pid_adj(host, 'ssh')[1] == -1000
    # This command runs in a new session of testinfra's own.
    assert host.file('/proc/self/oom_score_adj').content_string == '0\n'
