# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write semantics on the real kernel (semantics.yml, kernel-systemd): what the module predicts in check mode, what it
writes, what the kernel reads back, and what a failed write leaves behind."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kernel_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts('kernel-systemd')

TABLES = ('pages', 'mib', 'percent', 'disabled', 'restored')
TMPFILES = '/etc/tmpfiles.d/lowmemorykiller.conf'


@pytest.mark.parametrize('case', TABLES)
def test_check_mode_changes_no_byte_and_predicts_the_run(host, case):
    result = checks.case(host, case)
    assert result['check']['changed'] is True
    assert result['after_check'] == result['before']
    assert result['run']['changed'] is True
    assert result['check']['after'] == result['run']['after']
    assert result['check']['persist'] == result['run']['persist']


@pytest.mark.parametrize('case', TABLES)
def test_the_kernel_reads_back_what_the_module_reported(host, case):
    result = checks.case(host, case)
    shown = checks.parameter_files(result['after_run'])
    after = result['run']['after']
    assert shown == {'adj': checks.joined(after['adj']), 'minfree': checks.joined(after['minfree']),
                     'cost': '%d\n' % after['cost'], 'debug_level': '%d\n' % after['debug_level']}


@pytest.mark.parametrize('case', TABLES)
def test_a_second_run_changes_nothing(host, case):
    result = checks.case(host, case)
    assert result['again']['changed'] is False
    assert result['after_again'] == result['after_run']


def test_tables_in_pages_mib_and_percent_reach_the_kernel_as_pages(host):
    page_kb = int(host.check_output('getconf PAGESIZE')) // 1024
    mem_total_kb = checks.meminfo(host)['MemTotal']
    # 4M is 1024 pages of 4 KiB; a percentage of MemTotal is rounded up to whole pages.
    percent_pages = [-(-mem_total_kb * percent // (100 * page_kb)) for percent in (1, 2, 5)]
    expected = {
        'pages': ('0,200,900\n', '1024,2048,4096\n'),
        'mib': ('0,100,200,300\n', checks.joined([size * 1024 // page_kb for size in (4, 8, 16, 32)])),
        'percent': ('0,500,1000\n', checks.joined(percent_pages)),
    }
    for case, (adj, minfree) in expected.items():
        shown = checks.parameter_files(checks.case(host, case)['after_run'])
        assert (shown['adj'], shown['minfree']) == (adj, minfree), case


def test_disabled_is_exactly_adj_9999_and_minfree_1_written_at_boot_by_tmpfiles(host):
    result = checks.case(host, 'disabled')
    shown = checks.parameter_files(result['after_run'])
    assert (shown['adj'], shown['minfree']) == ('9999\n', '1\n')
    boot_lines = [line for line in result['after_run'][TMPFILES].splitlines() if not line.startswith('#')]
    assert boot_lines == ['w %s/adj - - - - 9999' % checks.PARAMETERS, 'w %s/minfree - - - - 1' % checks.PARAMETERS]


def test_restored_puts_back_the_drivers_defaults_and_removes_what_it_wrote(host):
    result = checks.case(host, 'restored')
    assert checks.parameter_files(result['after_run']) == checks.DEFAULTS
    # Every byte as on the fresh host, before the first case: boot files and saved state gone.
    assert result['after_run'] == checks.case(host, 'pages')['before']
    # And the host still shows them now, at the end of the stage.
    assert checks.parameters(host) == checks.DEFAULTS
    assert not host.file(TMPFILES).exists


def test_a_seven_entry_table_fails_in_the_kernel_and_leaves_every_parameter_as_it_was(host):
    result = checks.case(host, 'rollback')
    # The kernel takes six entries, then refuses the seventh (EINVAL); the module must put back the table
    # it found (the percent case's), and the boot file and saved state too.
    for run, after in (('run', 'after_run'), ('again', 'after_again')):
        assert result[run]['failed'] is True, run
        assert 'minfree' in result[run]['msg'] and 'Invalid argument' in result[run]['msg'], result[run]['msg']
        assert result[after] == result['before'], run
    assert checks.parameter_files(result['before']) == checks.parameter_files(checks.case(host, 'percent')['after_run'])
