# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Before hardening, the story's job is killed by the lowmemorykiller on the real kernel (kill.yml), and
lowmemorykiller_info reports exactly that kill and the threshold that allowed it."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kernel_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts('kernel-systemd', 'kernel-android')

# kernel-systemd's driver prints the 3.10-4.4 record, kernel-android's the 4.9 one.
RECORD_310 = re.compile(r'^lowmemorykiller: send sigkill to (\d+) \(([^)]*)\), adj (-?\d+), size (\d+)$')
RECORD_49 = re.compile(r"^lowmemorykiller: Killing '([^']*)' \((\d+)\), adj (-?\d+),$")
RECORD_49_FREE = re.compile(r'^\s+to free (\d+)kB on behalf of')
RECORD_49_LIMIT = re.compile(r'^\s+cache \d+kB is below limit (\d+)kB for oom_score_adj (-?\d+)$')


def _job_pid(saved):
    match = re.match(r'site-build: pid (\d+),', saved['job']['stdout_lines'][0])
    assert match, saved['job']['stdout']
    return int(match.group(1))


def _kernel_record(saved):
    """The driver's own record of the kill, from the journal: {pid, comm, adj, rss_kb, limit_kb, signal}."""
    lines = saved['kernel_log']
    found = []
    for index, line in enumerate(lines):
        match = RECORD_310.match(line)
        if match:
            found.append({'pid': int(match.group(1)), 'comm': match.group(2), 'adj': int(match.group(3)),
                          'rss_kb': int(match.group(4)) * 4, 'limit_kb': None, 'signal': 'SIGKILL'})
        match = RECORD_49.match(line)
        if match:
            free = RECORD_49_FREE.match(lines[index + 1])
            limit = RECORD_49_LIMIT.match(lines[index + 2])
            assert free and limit, lines[index:index + 4]
            # The 4.9 record does not name the signal (the driver sends SIGKILL all the same).
            found.append({'pid': int(match.group(2)), 'comm': match.group(1), 'adj': int(match.group(3)),
                          'rss_kb': int(free.group(1)), 'limit_kb': int(limit.group(1)), 'signal': None})
    assert len(found) == 1, 'one kill record expected: %s' % [line for line in lines if 'lowmemorykiller' in line]
    return found[0]


def test_the_job_died_of_sigkill(host):
    saved = checks.saved('kill', host)
    # ansible.builtin.command reports a child killed by signal N as rc -N.
    assert saved['job']['rc'] == -9, saved['job']
    assert not any('done' in line for line in saved['job']['stdout_lines'])


def test_the_lowmemorykiller_killed_it_not_the_oom_killer(host):
    saved = checks.saved('kill', host)
    record = _kernel_record(saved)
    assert (record['pid'], record['comm'], record['adj']) == (_job_pid(saved), 'site-build', 0)
    assert not [line for line in saved['kernel_log'] if 'Out of memory' in line or 'invoked oom-killer' in line]
    # It held most of the guest's RAM when it died.
    assert record['rss_kb'] > 300 * 1024
    if checks.name(host) == 'kernel-android':
        # The 4.9 record prints the threshold it acted on: minfree[0] = 1536 pages for adj 0.
        assert record['limit_kb'] == 1536 * 4


def test_lowmemorykiller_info_reports_that_kill(host):
    saved = checks.saved('kill', host)
    record = _kernel_record(saved)
    kills = [kill for kill in saved['info']['kills'] if kill['killer'] == 'lowmemorykiller']
    assert len(kills) == 1, saved['info']['kills']
    kill = kills[0]
    assert (kill['pid'], kill['comm'], kill['adj'], kill['rss_kb'], kill['signal']) == \
        (record['pid'], record['comm'], record['adj'], record['rss_kb'], record['signal'])


def test_lowmemorykiller_info_names_the_threshold_that_allowed_it(host):
    saved = checks.saved('kill', host)
    info = saved['info']
    index = [kill['killer'] for kill in info['kills']].index('lowmemorykiller')
    threshold = info['kill_thresholds'][index]
    assert (threshold['minfree_pages'], threshold['adj']) == (1536, 0), threshold
