# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lowmemorykiller_info against a fake host in a temporary directory: /proc, /sys, /etc, logs, commands."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import gzip
import json
import os
import time

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import killlog
from ansible_collections.lowmem.hardening.plugins.module_utils import lowmemorykiller as lmk_utils
from ansible_collections.lowmem.hardening.plugins.module_utils import host as host_layer
from ansible_collections.lowmem.hardening.plugins.module_utils import oom_protect
from ansible_collections.lowmem.hardening.plugins.modules import lowmemorykiller_info as module

from ansible_collections.lowmem.hardening.tests.unit.plugins.modules.utils import run_module

MIB = 1024 * 1024
DEFAULT_TEXTS = {'adj': '0,1,6,12\n', 'minfree': '1536,2048,4096,16384\n', 'cost': '32\n', 'debug_level': '1\n'}
BOOT_TIME = 1700000000

KERN_LOG_2 = [  # rotated twice, gzipped: the oldest
    'Feb  2 10:00:00 web1 kernel: [  100.000000] lowmemorykiller: send sigkill to 1001 (cron), adj 0, size 256\n',
]
KERN_LOG_1 = [
    'Feb  3 10:00:00 web1 kernel: [  200.000000] lowmemorykiller: send sigkill to 1002 (php5-fpm), adj 0, size 512\n',
    'Feb  3 10:00:01 web1 kernel: [  201.000000] usb 1-1: new high-speed USB device number 3 using ehci-pci\n',
]
KERN_LOG = [
    'Feb  4 02:28:44 web1 kernel: [12345.678901] lowmemorykiller: select 1204 (mysqld), adj 0, size 51200, to kill\n',
    'Feb  4 02:28:44 web1 kernel: [12345.678902] lowmemorykiller: send sigkill to 1204 (mysqld), adj 0, size 51200\n',
    'Feb  4 02:30:00 web1 kernel: [12420.000000] lowmemorykiller: send sigkill to 1790 (sshd), adj 0, size 1024\n',
]


def write(path, text, mode=0o644):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def script(path, body):
    """A stand-in for a command (dmesg, journalctl) the module runs."""
    return write(path, '#!/bin/sh\n' + body, 0o755)


class Host(object):
    """A fake host: every path the module reads points under a temporary directory."""

    def __init__(self, tmp_path, monkeypatch):
        self.root = str(tmp_path)
        self.monkeypatch = monkeypatch
        self.params = self.path('sys/module/lowmemorykiller/parameters')
        for name, text in DEFAULT_TEXTS.items():
            write(os.path.join(self.params, name), text)
        self.meminfo(512 * MIB, swap=1024 * MIB, swap_free=1024 * MIB)
        self.swaps([('/swapfile', 'file', 1048572, 0, -2)])
        self.proc = self.path('proc')
        write(os.path.join(self.proc, '1', 'oom_score_adj'), '0\n')
        write(self.path('proc_stat'), 'cpu  1 2 3\nbtime %d\nprocesses 100\n' % BOOT_TIME)
        write(self.path('cmdline'), 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n')
        self.logs = dict((name, self.path('var/log', name)) for name in ('kern.log', 'syslog', 'messages'))
        os.makedirs(self.path('var/log'))
        files = dict((m, self.path(f.lstrip('/'))) for m, f in lmk_utils.PERSIST_FILES.items())
        patches = {
            'PROC_STAT': self.path('proc_stat'), 'CMDLINE': self.path('cmdline'), 'KMSG': self.path('dev/kmsg'),
            # an empty ring buffer; no journal
            'DMESG': script(self.path('bin/dmesg'), 'exit 0\n'), 'JOURNALCTL': self.path('bin/no-journalctl'),
            'LOG_FILES': tuple(self.logs[name] for name in ('kern.log', 'syslog', 'messages')),
            'BOOT_FILES': (self.path('etc/sysfs.conf'), self.path('etc/rc.local')),
            'EARLYOOM_DEFAULTS': (self.path('etc/default/earlyoom'),),
            'OOMD_CONF': self.path('etc/systemd/oomd.conf'),
            'OOMD_DROPIN_DIRS': (self.path('etc/systemd/oomd.conf.d'),),
            'NOHANG_CONFS': (self.path('etc/nohang/nohang.conf'),),
            'KILLER_BINARIES': dict((name, (self.path('bin', name),)) for name in module.KILLER_BINARIES),
            'UNIT_DIRECTORY': self.path('etc/systemd/system'),
            'SYS_BLOCK': self.path('sys/block'),
        }
        for name, value in patches.items():
            monkeypatch.setattr(module, name, value)
        host_paths = {'MEMINFO': self.path('meminfo'), 'PROC_SWAPS': self.path('swaps'), 'PROC': self.proc,
                      'STATE_FILE': self.path('var/lib/lowmem-hardening/lowmemorykiller.json')}
        for name, value in host_paths.items():
            monkeypatch.setattr(host_layer, name, value)
        monkeypatch.setattr(lmk_utils, 'PERSIST_FILES', files)
        self.files = files

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def meminfo(self, total, swap, swap_free):
        write(self.path('meminfo'), 'MemTotal: %d kB\nMemFree: 10000 kB\nMemAvailable: %d kB\nSwapTotal: %d kB\n'
                                    'SwapFree: %d kB\n' % (total // 1024, total // 2048, swap // 1024, swap_free // 1024))

    def swaps(self, areas):
        write(self.path('swaps'), 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' + ''.join(
            '%-40s%s\t\t%d\t\t%d\t\t%d\n' % area for area in areas))

    def process(self, pid, comm, argv):
        write(os.path.join(self.proc, str(pid), 'comm'), comm + '\n')
        write(os.path.join(self.proc, str(pid), 'cmdline'), '\0'.join(argv) + '\0')

    def task(self, pid, comm, adj, cgroup_path, ppid=1, tty=0, argv=None):
        """A process as host.read_processes sees it: stat, oom_score_adj, cgroup (v2), and comm and cmdline."""
        self.process(pid, comm, argv or [comm])
        directory = os.path.join(self.proc, str(pid))
        write(os.path.join(directory, 'stat'), '%d (%s) S %d %d %d %d -1 0 0 0\n' % (pid, comm, ppid, pid, pid, tty))
        write(os.path.join(directory, 'oom_score_adj'), '%d\n' % adj)
        write(os.path.join(directory, 'cgroup'), '0::%s\n' % cgroup_path)

    def dropin(self, unit, text):
        return write(self.path('etc/systemd/system', unit + '.d', 'lowmem-protect.conf'), text)

    def rotated_kern_logs(self):
        with gzip.open(self.logs['kern.log'] + '.2.gz', 'wt') as f:
            f.write(''.join(KERN_LOG_2))
        write(self.logs['kern.log'] + '.1', ''.join(KERN_LOG_1))
        write(self.logs['kern.log'], ''.join(KERN_LOG))
        # syslog holds the kernel's lines too
        write(self.logs['syslog'], ''.join(KERN_LOG[1:]) + 'Feb  4 02:31:00 web1 CRON[1]: (root) CMD (true)\n')
        # syslog prints no year: it comes from the file's date
        written = time.mktime((2024, 2, 5, 0, 0, 0, 0, 0, -1))
        for path in (self.logs['kern.log'] + '.2.gz', self.logs['kern.log'] + '.1', self.logs['kern.log'],
                     self.logs['syslog']):
            os.utime(path, (written, written))

    def run(self, check_mode=False, diff=False, **args):
        args.setdefault('path', self.params)
        return run_module(module.main, args, check_mode=check_mode, diff=diff, monkeypatch=self.monkeypatch)


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def codes(result):
    return [f['code'] for f in result['lowmemorykiller']['findings']]


def finding(result, code):
    matching = [f for f in result['lowmemorykiller']['findings'] if f['code'] == code]
    assert len(matching) == 1, codes(result)
    return matching[0]


def kills(result, *fields):
    fields = fields or ('killer', 'pid', 'comm')
    return [tuple(kill[field] for field in fields) for kill in result['lowmemorykiller']['kills']]


# ---------------------------------------------------------------------------

def test_the_2014_case(host):
    result = host.run()
    assert not result.get('failed'), result
    lmk = result['lowmemorykiller']
    assert result['changed'] is False
    assert lmk['present'] is True and lmk['disabled'] is False
    assert lmk['params'] == {'adj': [0, 1, 6, 12], 'minfree': [1536, 2048, 4096, 16384], 'cost': 32, 'debug_level': 1}
    assert lmk['thresholds'][-1] == {'minfree_pages': 16384, 'minfree_bytes': 64 * MIB, 'minfree_mib': 64.0,
                                     'minfree_percent': 12.5, 'adj': 12}
    assert lmk['memory'] == {
        'mem_total_bytes': 512 * MIB, 'mem_available_bytes': 256 * MIB, 'swap_total_bytes': 1024 * MIB,
        'swap_used_bytes': 0,
        'swaps': [{'filename': '/swapfile', 'type': 'file', 'size_bytes': 1048572 * 1024, 'used_bytes': 0,
                   'priority': -2}]}
    warning = finding(result, 'lmk_kills_before_swap')
    assert warning['severity'] == 'warning'
    assert '12.5% of 512 MiB RAM' in warning['message']
    assert 'lmk_adj_includes_system' in codes(result)
    assert lmk['persist'] == {'mechanisms': [], 'matches': None}
    assert lmk['kills'] == [] and lmk['killers'] == [] and lmk['unreadable'] == []


def test_host_without_the_driver(host):
    result = host.run(path=host.path('sys/module/nothing/parameters'))
    assert not result.get('failed'), result
    lmk = result['lowmemorykiller']
    assert (lmk['present'], lmk['params'], lmk['thresholds'], lmk['disabled']) == (False, {}, [], None)
    assert codes(result) == ['lmk_absent']
    assert lmk['memory']['swap_total_bytes'] == 1024 * MIB


def test_host_without_the_driver_or_swap(host):
    host.meminfo(2048 * MIB, swap=0, swap_free=0)
    host.swaps([])
    result = host.run(path=host.path('missing'))
    assert codes(result) == ['no_swap', 'lmk_absent']
    assert 'lmk_kills_before_swap' not in codes(result)


def test_kills_from_rotated_logs_oldest_first_and_once(host):
    host.rotated_kern_logs()
    result = host.run()
    lmk = result['lowmemorykiller']
    assert kills(result, 'pid', 'comm', 'rss_kb', 'source') == [
        (1001, 'cron', 1024, host.logs['kern.log'] + '.2.gz'),
        (1002, 'php5-fpm', 2048, host.logs['kern.log'] + '.1'),
        (1204, 'mysqld', 204800, host.logs['kern.log']),
        (1790, 'sshd', 4096, host.logs['kern.log']),
    ]
    assert lmk['kills'][2]['time'] == 'Feb  4 02:28:44'
    assert lmk['kills'][2]['lines'] == [KERN_LOG[1].rstrip('\n')]
    # syslog had two of the same kills: found there, reported once
    assert lmk['logs'] == [
        {'source': host.logs['kern.log'] + '.2.gz', 'kills': 1, 'undated': 0},
        {'source': host.logs['kern.log'] + '.1', 'kills': 1, 'undated': 0},
        {'source': host.logs['kern.log'], 'kills': 2, 'undated': 0},
        {'source': host.logs['syslog'], 'kills': 2, 'undated': 0},
        {'source': 'dmesg', 'kills': 0, 'undated': 0},
    ]
    assert finding(result, 'kills_found')['message'].startswith('4 memory-pressure kills found')


def test_max_kills_keeps_the_newest(host):
    host.rotated_kern_logs()
    result = host.run(max_kills=2)
    assert kills(result, 'pid') == [(1204,), (1790,)]
    none = host.run(max_kills=0)
    assert none['lowmemorykiller']['kills'] == []
    assert finding(none, 'kills_found')['message'].startswith('4 memory-pressure kills found')


def test_since(host):
    write(host.path('incident.log'), ''.join([
        '2024-02-03T23:59:59+00:00 web1 kernel: lowmemorykiller: send sigkill to 1 (old), adj 0, size 1\n',
        '2024-02-04T12:00:00+00:00 web1 kernel: lowmemorykiller: send sigkill to 2 (new), adj 0, size 1\n',
        '[  300.000000] lowmemorykiller: send sigkill to 3 (undated), adj 0, size 1\n',
    ]))
    result = host.run(log_files=[host.path('incident.log')], since='2024-02-04')
    assert kills(result, 'pid') == [(2,)]
    assert result['lowmemorykiller']['logs'] == [{'source': host.path('incident.log'), 'kills': 1, 'undated': 1}]
    everything = host.run(log_files=[host.path('incident.log')])
    # without a date, a kill keeps its place after the one before it
    assert kills(everything, 'pid') == [(1,), (2,), (3,)]


def test_since_relative_to_now(host):
    now = time.time()
    lines = ['%s web1 kernel: send sigkill to %d (x), adj 0, size 1\n'
             % (time.strftime('%Y-%m-%dT%H:%M:%S+0000', time.gmtime(now - age)), pid)
             for pid, age in ((1, 3 * 3600), (2, 600))]
    write(host.path('recent.log'), ''.join(lines))
    assert kills(host.run(log_files=[host.path('recent.log')], since='1h'), 'pid') == [(2,)]


@pytest.mark.parametrize('args, message', [
    ({'since': 'last tuesday'}, 'since: '),
    ({'max_kills': -1}, 'max_kills: -1 must be 0 or more'),
])
def test_bad_input(host, args, message):
    result = host.run(**args)
    assert result.get('failed') and result['msg'].startswith(message)


def test_check_mode_reports_the_same(host):
    host.rotated_kern_logs()
    normal = host.run()
    checked = host.run(check_mode=True)
    assert checked['lowmemorykiller'] == normal['lowmemorykiller']
    assert checked['changed'] is False


def test_explicit_files_missing_or_broken_are_noted(host):
    write(host.path('bad.gz'), 'not gzip at all\n')
    os.makedirs(host.path('a-directory'))
    result = host.run(log_files=[host.path('missing.log'), host.path('bad.gz'), host.path('a-directory')])
    assert not result.get('failed'), result
    assert [u['source'] for u in result['lowmemorykiller']['unreadable']] == [
        host.path('missing.log'), host.path('bad.gz'), host.path('a-directory')]
    assert 'unreadable' in codes(result)


def test_default_logs_missing_are_fine(host):
    result = host.run()
    assert result['lowmemorykiller']['logs'] == [{'source': 'dmesg', 'kills': 0, 'undated': 0}]
    assert result['lowmemorykiller']['unreadable'] == []


def test_ring_buffer_from_dmesg(host, monkeypatch):
    write(host.path('ring'), '[ 3600.000000] lowmemorykiller: send sigkill to 77 (Web Content), adj 906, size 100\n')
    monkeypatch.setattr(module, 'DMESG', script(host.path('bin/dmesg'), 'cat %s\n' % host.path('ring')))
    result = host.run(sources=['kmsg'])
    assert kills(result, 'pid', 'comm', 'source', 'time') == [(77, 'Web Content', 'dmesg', '3600.000000')]
    # the kernel's uptime stamp is dated with the boot time
    just_before, just_after = (time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(BOOT_TIME + 3600 + delta))
                               for delta in (-1, 1))
    assert kills(host.run(sources=['kmsg'], since=just_before), 'pid') == [(77,)]
    assert kills(host.run(sources=['kmsg'], since=just_after), 'pid') == []


def test_ring_buffer_restricted(host, monkeypatch):
    monkeypatch.setattr(module, 'DMESG', script(
        host.path('bin/dmesg'), 'echo "dmesg: read kernel buffer failed: Operation not permitted" >&2\nexit 1\n'))
    result = host.run(sources=['kmsg'])
    assert not result.get('failed'), result
    assert result['lowmemorykiller']['unreadable'] == [
        {'source': 'dmesg', 'error': 'dmesg: read kernel buffer failed: Operation not permitted'},
        {'source': host.path('dev/kmsg'), 'error': 'No such file or directory'},
    ]
    assert 'become: true' in finding(result, 'unreadable')['message']


def fake_journalctl(host, monkeypatch, text):
    """A journalctl that prints text for the module's one call (kernel OR killers) and logs each argv."""
    entries = write(host.path('journal'), text)
    calls = host.path('journalctl-calls')
    monkeypatch.setattr(module, 'JOURNALCTL', script(host.path('bin/journalctl'), (
        'echo "$*" >> %s\n'
        'case "$*" in *"_TRANSPORT=kernel + SYSLOG_IDENTIFIER=earlyoom SYSLOG_IDENTIFIER=systemd-oomd"*) cat %s ;;'
        ' *) exit 3 ;; esac\n' % (calls, entries))))
    return calls


def test_journal_and_files_report_a_kill_once(host, monkeypatch):
    host.rotated_kern_logs()
    calls = fake_journalctl(host, monkeypatch, (
        '2024-02-04T02:28:44+0000 web1 kernel: lowmemorykiller: send sigkill to 1204 (mysqld), adj 0, size 51200\n'
        '2024-02-04T02:40:00+0000 web1 earlyoom[611]: sending SIGTERM to process 3000 uid 1000 '
        '"Web Content": oom_score 800, oom_score_adj 100, VmRSS 1000 MiB, cmdline "firefox"\n'))
    result = host.run(sources=['journal', 'files'])
    lmk = result['lowmemorykiller']
    assert [(k['pid'], k['source']) for k in lmk['kills'] if k['pid'] in (1204, 3000)] == [
        (1204, 'journal'), (3000, 'journal')]
    assert kills(result, 'pid') == [(1001,), (1002,), (1204,), (1790,), (3000,)]
    assert lmk['kills'][-1]['signal'] == 'SIGTERM' and lmk['kills'][-1]['rss_kb'] == 1000 * 1024
    assert lmk['logs'][0] == {'source': 'journal', 'kills': 2, 'undated': 0}
    assert lmk['unreadable'] == []
    # one pass over the journal: the kernel's entries of every boot (no --dmesg, which means this boot only)
    with open(calls) as f:
        assert f.read().splitlines() == [
            '--no-pager --quiet --output short-iso _TRANSPORT=kernel + ' +
            ' '.join('SYSLOG_IDENTIFIER=%s' % name for name in module.JOURNAL_IDENTIFIERS)]


def test_journal_is_read_from_since(host, monkeypatch):
    calls = fake_journalctl(host, monkeypatch, '')
    host.run(sources=['journal'], since='2024-02-04 10:00')
    with open(calls) as f:
        assert f.read().split(' _TRANSPORT=')[0].endswith('--since 2024-02-04 10:00:00')


def test_journal_failing_is_noted(host, monkeypatch):
    monkeypatch.setattr(module, 'JOURNALCTL', script(host.path('bin/journalctl'), 'echo "Failed to open" >&2\nexit 1\n'))
    result = host.run(sources=['journal'])
    assert result['lowmemorykiller']['unreadable'] == [{'source': 'journalctl', 'error': 'Failed to open'}]


def test_log_files_written_before_since_are_not_opened(host):
    host.rotated_kern_logs()
    with open(host.logs['kern.log'] + '.2.gz', 'wb') as f:
        f.write(b'not gzip')  # reading it would be noted as unreadable
    old = time.mktime((2024, 2, 2, 12, 0, 0, 0, 0, -1))
    os.utime(host.logs['kern.log'] + '.2.gz', (old, old))
    result = host.run(since='2024-02-03')
    lmk = result['lowmemorykiller']
    assert kills(result, 'pid') == [(1002,), (1204,), (1790,)]
    assert lmk['unreadable'] == []
    assert {'source': host.logs['kern.log'] + '.2.gz', 'kills': 0, 'undated': 0,
            'skipped': 'last written before since'} in lmk['logs']
    # without since, every file is read (and the broken one noted)
    everything = host.run()
    assert [u['source'] for u in everything['lowmemorykiller']['unreadable']] == [host.logs['kern.log'] + '.2.gz']


NOHANG_COMMAND = ''.join('2024-02-04T02:28:44+0000 web1 nohang[611]: %s\n' % line for line in (
    '  Finding the process with the highest badness',
    '  Victim is chromium, pid: 4100, badness: 650, VmRSS: 1500 MiB, VmSwap: 0 MiB',
    '  Execute the command: systemctl restart chromium-kiosk',
    '  Exit status: 0; response time: 120 ms'))


def test_kern_log_is_scanned_for_the_kernels_records_only(host):
    """A userspace killer's line without a kill word is looked for in syslog, not in kern.log."""
    write(host.logs['kern.log'], NOHANG_COMMAND)
    assert host.run(sources=['files'])['lowmemorykiller']['kills'] == []
    write(host.logs['syslog'], NOHANG_COMMAND)
    assert kills(host.run(sources=['files']), 'killer', 'pid', 'source') == [('nohang', 4100, host.logs['syslog'])]
    # a file given in log_files may hold anything
    assert kills(host.run(log_files=[host.logs['kern.log']]), 'pid') == [(4100,)]


def test_kills_by_killer_counts_beyond_max_kills(host, monkeypatch):
    host.rotated_kern_logs()
    fake_journalctl(host, monkeypatch, (
        '2024-02-04T02:40:00+0000 web1 earlyoom[611]: sending SIGTERM to process 3000 uid 1000 '
        '"Web Content": oom_score 800, oom_score_adj 100, VmRSS 1000 MiB, cmdline "firefox"\n'))
    result = host.run(max_kills=1, sources=['journal', 'files'])
    by_killer = result['lowmemorykiller']['kills_by_killer']
    assert sorted(by_killer) == ['earlyoom', 'lowmemorykiller']
    assert by_killer['lowmemorykiller']['count'] == 4
    assert by_killer['lowmemorykiller']['newest']['pid'] == 1790
    assert by_killer['lowmemorykiller']['newest_timestamp'] == time.mktime((2024, 2, 4, 2, 30, 0, 0, 0, -1))
    assert by_killer['earlyoom']['count'] == 1
    assert by_killer['earlyoom']['newest_timestamp'] == 1707014400.0  # 2024-02-04T02:40:00+0000
    assert [k['pid'] for k in result['lowmemorykiller']['kills']] == [3000]


def read_prom(path):
    from prometheus_client.parser import text_string_to_metric_families
    with open(path) as f:
        return dict(((s.name, tuple(sorted(s.labels.items()))), s.value)
                    for family in text_string_to_metric_families(f.read()) for s in family.samples)


def test_metrics_file_written_once_then_unchanged(host):
    host.rotated_kern_logs()
    directory = host.path('var/lib/prometheus/node-exporter')
    os.makedirs(directory)
    path = os.path.join(directory, 'lowmem.prom')
    first = host.run(metrics_file=path, since='100000d', diff=True)
    assert first['changed'] is True and first['metrics_file'] == path
    assert first['diff']['before'] == '' and 'lowmem_kills{killer="lowmemorykiller"} 4' in first['diff']['after']
    samples = read_prom(path)
    assert samples[('lowmem_kills', (('killer', 'lowmemorykiller'),))] == 4
    assert samples[('lowmem_lmk_state', (('state', 'enabled'),))] == 1
    assert samples[('lowmem_kills_window_seconds', ())] == 100000 * 86400
    assert samples[('lowmem_lmk_top_threshold_ratio', ())] == pytest.approx(0.125)
    assert oct(os.stat(path).st_mode & 0o7777) == oct(0o644)
    assert os.listdir(directory) == ['lowmem.prom']  # no temporary left
    again = host.run(metrics_file=path, since='100000d')
    assert again['changed'] is False


def test_metrics_file_check_mode_writes_nothing(host):
    directory = host.path('textfile')
    os.makedirs(directory)
    path = os.path.join(directory, 'lowmem.prom')
    result = host.run(check_mode=True, metrics_file=path, diff=True)
    assert result['changed'] is True and 'lowmem_lmk_state{state="enabled"} 1' in result['diff']['after']
    assert os.listdir(directory) == []


@pytest.mark.parametrize('name, message', [
    ('textfile/lowmem.txt', 'metrics_file: %s must end in .prom'),
    ('missing/lowmem.prom', 'metrics_file: the directory %s does not exist'),
])
def test_metrics_file_refused(host, name, message):
    os.makedirs(host.path('textfile'))
    path = host.path(name)
    result = host.run(metrics_file=path)
    assert result.get('failed')
    assert result['msg'].startswith(message % (path if name.endswith('.txt') else os.path.dirname(path)))
    assert os.listdir(host.path('textfile')) == [] and not os.path.exists(host.path('missing'))


def test_metrics_file_needs_root(host, monkeypatch):
    os.makedirs(host.path('textfile'))
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    result = host.run(metrics_file=host.path('textfile/lowmem.prom'))
    assert result.get('failed') and 'must run as root to write metrics_file' in result['msg']
    assert os.listdir(host.path('textfile')) == []


def zram_host(host, monkeypatch, oomd_start_ticks, dmesg):
    host.meminfo(512 * MIB, swap=256 * MIB, swap_free=200 * MIB)
    host.swaps([('/dev/zram0', 'partition', 262140, 57344, 100)])
    for name, text in (('disksize', '268435456\n'), ('comp_algorithm', 'lzo lzo-rle lz4 [zstd]\n'),
                       ('mm_stat', '58720256 16777216 18874368 0 18874368 0 0 0\n')):
        write(host.path('sys/block/zram0', name), text)
    host.process(845, 'systemd-oomd', ['/usr/lib/systemd/systemd-oomd'])
    write(host.path('proc/845/stat'), '845 (systemd-oomd) S 1 845 845 0 -1 4194560 %s\n'
          % ' '.join(['0'] * 12 + [str(oomd_start_ticks)]))  # starttime is field 22
    write(host.path('ring'), dmesg)
    monkeypatch.setattr(module, 'DMESG', script(host.path('bin/dmesg'), 'cat %s\n' % host.path('ring')))


def test_zram_swap_is_shown_with_its_ratio_and_algorithm(host, monkeypatch):
    zram_host(host, monkeypatch, 500, '[    3.251004] Adding 262140k swap on /dev/zram0.  Priority:100 extents:1\n')
    result = host.run()
    swaps = result['lowmemorykiller']['memory']['swaps']
    assert swaps == [{'filename': '/dev/zram0', 'type': 'partition', 'size_bytes': 262140 * 1024,
                      'used_bytes': 57344 * 1024, 'priority': 100,
                      'zram': {'disksize_bytes': 268435456, 'algorithm': 'zstd', 'orig_data_bytes': 58720256,
                               'compr_data_bytes': 16777216, 'mem_used_bytes': 18874368, 'ratio': 3.5}}]
    # oomd started at 500 ticks = 5 s, after the swap (3.25 s): nothing to say
    # (the same fake with 150 ticks gives the finding: test_oomd_that_started_before_the_zram_swap)
    assert 'oomd_started_before_swap' not in codes(result)
    assert 'zram_oversized' not in codes(result)


def test_oomd_that_started_before_the_zram_swap(host, monkeypatch):
    zram_host(host, monkeypatch, 150, '[    3.251004] Adding 262140k swap on /dev/zram0.  Priority:100 extents:1\n')
    message = finding(host.run(), 'oomd_started_before_swap')['message']
    assert message.startswith('systemd-oomd (pid 845) started 1.5 s after boot, before any swap was on (the first, '
                              '/dev/zram0, at 3.3 s)')


def test_other_killers(host):
    host.process(700, 'earlyoom', ['/usr/bin/earlyoom', '-r', '60', '-m', '5,2'])
    host.process(845, 'systemd-oomd', ['/usr/lib/systemd/systemd-oomd'])
    host.process(900, 'python3', ['/usr/bin/python3', '/usr/sbin/nohang', '--config', host.path('my-nohang.conf')])
    host.process(901, 'bash', ['bash'])
    write(host.path('my-nohang.conf'), 'soft_threshold_min_mem = 8 %\nhard_threshold_min_mem = 4 %\n')
    write(host.path('etc/systemd/oomd.conf.d/10-limits.conf'), '[OOM]\nSwapUsedLimit=80%\n')
    write(host.path('bin/lmkd'), '')
    result = host.run(path=host.path('missing'))
    killers = dict((k['name'], k) for k in result['lowmemorykiller']['killers'])
    assert sorted(killers) == ['earlyoom', 'lmkd', 'nohang', 'systemd-oomd']
    assert killers['earlyoom'] == {
        'name': 'earlyoom', 'installed': False, 'running': True, 'pids': [700], 'config': None,
        'thresholds': {'mem_term_percent': 5.0, 'mem_kill_percent': 2.0, 'swap_term_percent': 10.0,
                       'swap_kill_percent': 5.0}}
    assert killers['systemd-oomd']['thresholds']['SwapUsedLimit'] == '80%'
    assert killers['systemd-oomd']['config'] == host.path('etc/systemd/oomd.conf.d/10-limits.conf')
    assert killers['nohang']['pids'] == [900]
    assert killers['nohang']['thresholds'] == {'soft_threshold_min_mem': '8 %', 'hard_threshold_min_mem': '4 %'}
    assert (killers['lmkd']['installed'], killers['lmkd']['running']) == (True, False)
    assert 'earlyoom, systemd-oomd, nohang' in finding(result, 'several_killers')['message']


def test_persistence_in_sync_and_out_of_sync(host):
    values = {'adj': [0, 1, 6, 12], 'minfree': [1536, 2048, 4096, 16384]}
    write(host.files['tmpfiles'], lmk_utils.render_persistence('tmpfiles', host.params, values))
    write(host.path('cmdline'), 'root=/dev/sda1 lowmemorykiller.minfree=1 quiet\n')
    result = host.run()
    persist = result['lowmemorykiller']['persist']
    assert persist == {'matches': False, 'mechanisms': [
        {'method': 'tmpfiles', 'file': host.files['tmpfiles'], 'values': values, 'managed': True, 'matches': True},
        {'method': 'cmdline', 'file': host.path('cmdline'), 'values': {'minfree': [1]}, 'managed': False,
         'matches': False}]}
    assert finding(result, 'persist_out_of_sync')['message'].startswith(
        '%s (cmdline) sets minfree=1 (the kernel shows 1536,2048,4096,16384)' % host.path('cmdline'))


def test_runtime_only_fix_is_lost_at_reboot(host):
    write(os.path.join(host.params, 'adj'), '9999\n')
    write(os.path.join(host.params, 'minfree'), '1\n')
    write(host.path('etc/rc.local'), '#!/bin/sh\necho 9999 > %s/adj\nexit 0\n' % host.params)
    result = host.run()
    lmk = result['lowmemorykiller']
    assert lmk['disabled'] is True
    assert lmk['persist']['mechanisms'] == [{'method': 'script', 'file': host.path('etc/rc.local'),
                                             'values': {'adj': [9999]}, 'managed': False, 'matches': True}]
    assert 'persist_missing' not in codes(result)
    os.remove(host.path('etc/rc.local'))
    assert 'adj=9999, minfree=1' in finding(host.run(), 'persist_missing')['message']


def test_unreadable_parameter(host):
    os.remove(os.path.join(host.params, 'cost'))
    os.makedirs(os.path.join(host.params, 'cost'))  # listed, but not a file: skipped
    write(os.path.join(host.params, 'weird'), 'not,numbers\n')
    result = host.run()
    params = result['lowmemorykiller']['params']
    assert 'cost' not in params and params['weird'] == 'not,numbers'
    assert params['adj'] == [0, 1, 6, 12]


# ---------------------------------------------------------------------------
# The threshold behind each lowmemorykiller kill

STORY_KILL = 'Mar 14 02:17:09 droplet kernel: [12964.318276] send sigkill to 17651 (site-build), adj 0, size 86942\n'
NO_THRESHOLD = {'minfree_pages': None, 'minfree_bytes': None, 'minfree_mib': None, 'minfree_percent': None,
                'adj': None}


def disable(host):
    write(os.path.join(host.params, 'adj'), '9999\n')
    write(os.path.join(host.params, 'minfree'), '1\n')


def save_originals(host, texts=None):
    """The state file lowmem.hardening.lowmemorykiller leaves when it changed the values."""
    state = {'paths': {host.params: {'original': texts or DEFAULT_TEXTS, 'adj_autodetect': False,
                                     'persisted': ['adj', 'minfree']}}}
    write(host_layer.STATE_FILE, json.dumps(state), 0o600)


def test_a_kill_before_the_change_is_explained_by_the_saved_values(host):
    write(host.logs['kern.log'], STORY_KILL)
    disable(host)
    save_originals(host)
    result = host.run()
    lmk = result['lowmemorykiller']
    # the kill itself is as before: the threshold is beside it
    assert [sorted(kill) for kill in lmk['kills']] == [sorted(killlog.KILL_FIELDS)]
    assert lmk['kill_thresholds'] == [{'minfree_pages': 1536, 'minfree_bytes': 6 * MIB, 'minfree_mib': 6.0,
                                       'minfree_percent': 1.17, 'adj': 0, 'table': 'original'}]
    assert finding(result, 'kills_found')['message'].endswith(
        'killed site-build (pid 17651) at Mar 14 02:17:09, allowed by the threshold minfree 1536 pages (6 MiB, 1.2% '
        'of RAM) for adj >= 0, in the values from before lowmem.hardening changed them.')
    assert lmk['unreadable'] == []


def test_without_saved_values_todays_table_is_used(host):
    write(host.logs['kern.log'], STORY_KILL)
    assert host.run()['lowmemorykiller']['kill_thresholds'][0]['table'] == 'current'
    disable(host)
    result = host.run()
    assert result['lowmemorykiller']['kill_thresholds'] == [dict(NO_THRESHOLD, table='current')]
    assert finding(result, 'kills_found')['message'].endswith("but no threshold in today's values selects adj 0.")


def test_saved_values_of_another_path_are_not_used(host):
    write(host.logs['kern.log'], STORY_KILL)
    disable(host)
    save_originals(host)
    other = host.path('sys/module/other/parameters')
    os.makedirs(other)
    for name, text in (('adj', '9999\n'), ('minfree', '1\n')):
        write(os.path.join(other, name), text)
    assert host.run(path=other)['lowmemorykiller']['kill_thresholds'] == [dict(NO_THRESHOLD, table='current')]


def test_a_record_that_prints_its_limit_is_believed(host):
    write(host.logs['kern.log'], ''.join([
        "[ 8101.400000] lowmemorykiller: Killing 'Web Content' (7012), adj 900,\n",
        "[ 8101.400000]    to free 52100kB on behalf of 'kswapd0' (95) because\n",
        '[ 8101.400000]    cache 40000kB is below limit 61440kB for oom_score_adj 529\n',
        '[ 8101.400000]    Free memory is 3000kB above reserved\n',
    ]))
    save_originals(host)
    page_size = os.sysconf('SC_PAGE_SIZE')
    threshold = host.run()['lowmemorykiller']['kill_thresholds'][0]
    assert (threshold['table'], threshold['minfree_pages'], threshold['adj']) == ('record', 61440 * 1024 // page_size,
                                                                                  529)


def test_one_entry_per_returned_kill_null_for_other_killers(host):
    write(host.logs['kern.log'], STORY_KILL + (
        'Mar 14 05:00:00 droplet kernel: [23000.000000] Out of memory: Killed process 900 (java) total-vm:100kB, '
        'anon-rss:50kB, file-rss:0kB, shmem-rss:0kB\n'))
    result = host.run()
    lmk = result['lowmemorykiller']
    assert kills(result, 'killer') == [('lowmemorykiller',), ('oom-killer',)]
    assert [t and t['minfree_pages'] for t in lmk['kill_thresholds']] == [1536, None]
    assert host.run(max_kills=1)['lowmemorykiller']['kill_thresholds'] == [None]
    assert host.run(max_kills=0)['lowmemorykiller']['kill_thresholds'] == []


def test_the_saved_values_are_read_only_when_a_kill_needs_them(host):
    os.makedirs(host_layer.STATE_FILE)  # a state file that cannot be read
    result = host.run()
    assert result['lowmemorykiller']['unreadable'] == []
    write(host.logs['kern.log'], STORY_KILL)
    result = host.run()
    assert not result.get('failed'), result
    assert [u['source'] for u in result['lowmemorykiller']['unreadable']] == [host_layer.STATE_FILE]
    assert result['lowmemorykiller']['kill_thresholds'][0]['table'] == 'current'


# ---------------------------------------------------------------------------
# Services protected by lowmem.hardening.oom_protect, and the sshd trap

AVOID_DROPIN = ('# Managed by lowmem.hardening.oom_protect: avoid. Local changes are overwritten.\n[Service]\n'
                'OOMScoreAdjust=-500\nManagedOOMPreference=avoid\n')
PREFER_DROPIN = ('# Managed by lowmem.hardening.oom_protect: prefer. Local changes are overwritten.\n[Service]\n'
                 'OOMScoreAdjust=500\n')


def debian_12(host, session_adj=0):
    """systemd, the OpenSSH listener at -1000 by its own doing, one ssh login, postgres at -500."""
    host.task(1, 'systemd', 0, '/init.scope', ppid=0)
    host.task(840, 'sshd', -1000, '/system.slice/ssh.service')
    scope = '/user.slice/user-1000.slice/session-3.scope'
    host.task(2000, 'sshd', session_adj, scope, ppid=840)
    host.task(2010, 'sshd', session_adj, scope, ppid=2000)
    host.task(2011, 'bash', session_adj, scope, ppid=2010, tty=34816)
    host.task(812, 'postgres', -500, '/system.slice/postgresql@15-main.service')
    host.task(813, 'postgres', -500, '/system.slice/postgresql@15-main.service/backends', ppid=812)


def test_protection_of_each_service_against_each_killer(host):
    debian_12(host)
    host.dropin('postgresql@15-main.service', AVOID_DROPIN)
    host.dropin('batch.service', PREFER_DROPIN)  # not running
    host.dropin('other.service', '[Service]\nOOMScoreAdjust=-1000\n')  # someone else's file of that name
    host.task(700, 'earlyoom', 0, '/system.slice/earlyoom.service',
              argv=['/usr/bin/earlyoom', '-r', '3600', '--avoid', '^(postgres)$'])
    write(host.path('bin/systemd-oomd'), '')
    result = host.run()
    assert not result.get('failed'), result
    protection = result['lowmemorykiller']['protection']
    assert [entry['unit'] for entry in protection] == ['batch.service', 'postgresql@15-main.service']
    assert protection[0]['processes'] == [] and protection[0]['level'] == 'prefer'
    assert protection[0]['killers']['systemd-oomd'] == {'effect': 'none', 'value': None}
    assert protection[0]['killers']['oom-killer'] == {'effect': None, 'value': None}
    assert protection[1] == {
        'unit': 'postgresql@15-main.service', 'level': 'avoid',
        'processes': [{'pid': 812, 'name': 'postgres', 'oom_score_adj': -500},
                      {'pid': 813, 'name': 'postgres', 'oom_score_adj': -500}],
        'killers': {
            'oom-killer': {'effect': 'avoid', 'value': -500},
            'lowmemorykiller': {'effect': 'protect', 'value': -500, 'threshold': None},  # lowest adj 0
            'systemd-oomd': {'effect': 'avoid', 'value': 'avoid'},
            'earlyoom': {'effect': 'avoid', 'value': '--avoid ^(postgres)$'},
        }}
    assert not set(codes(result)) & {'sshd_trap', 'lmk_reaches_protected', 'oomd_no_swap'}


def test_earlyoom_not_running_is_read_from_its_defaults(host):
    debian_12(host)
    host.dropin('postgresql@15-main.service', AVOID_DROPIN)
    write(host.path('bin/earlyoom'), '')
    write(host.path('etc/default/earlyoom'), '# lowmem.hardening.oom_protect wrote: --prefer ^(postgres)$\n'
                                             'EARLYOOM_ARGS="-r 3600 --prefer ^(postgres)$"\n')
    killers = host.run(path=host.path('missing'))['lowmemorykiller']['protection'][0]['killers']
    assert sorted(killers) == ['earlyoom', 'oom-killer']
    assert killers['earlyoom'] == {'effect': 'prefer', 'value': '--prefer ^(postgres)$'}


def test_a_dropin_of_an_alias_is_its_units(host):
    """oom_protect {sshd: protect} on Debian writes sshd.service.d, which systemd loads for ssh.service."""
    debian_12(host)
    host.dropin('sshd.service', oom_protect.render_dropin(oom_protect.plan_unit('sshd.service', 'protect', [])))
    os.symlink('/lib/systemd/system/ssh.service', host.path('etc/systemd/system/sshd.service'))
    protection = host.run()['lowmemorykiller']['protection']
    assert [(entry['unit'], [p['pid'] for p in entry['processes']]) for entry in protection] == [('ssh.service', [840])]
    assert protection[0]['killers']['oom-killer'] == {'effect': 'protect', 'value': -1000}


def test_no_protection_without_dropins(host):
    debian_12(host)
    assert host.run()['lowmemorykiller']['protection'] == []


def test_the_sshd_trap_on_a_host(host):
    debian_12(host, session_adj=-1000)
    message = finding(host.run(), 'sshd_trap')['message']
    assert message.startswith('Login sessions run at oom_score_adj -1000: sshd (pid 2000), sshd (pid 2010), '
                              'bash (pid 2011) in session-3.scope. ')
    assert '(ssh.service) leaks into them' in message


def test_no_trap_when_sessions_are_killable(host):
    debian_12(host, session_adj=0)
    assert 'sshd_trap' not in codes(host.run())


def test_lowmemorykiller_reaching_a_protected_service(host):
    debian_12(host)
    host.dropin('postgresql@15-main.service', AVOID_DROPIN)
    write(os.path.join(host.params, 'adj'), '-900,0,6,12\n')
    result = host.run()
    lmk = result['lowmemorykiller']['protection'][0]['killers']['lowmemorykiller']
    assert (lmk['effect'], lmk['value'], lmk['threshold']['adj'], lmk['threshold']['minfree_pages']) == (
        'avoid', -500, -900, 1536)
    assert ('postgresql@15-main.service (level avoid, oom_score_adj -500) from the row minfree 1536 pages (6 MiB) '
            'for adj >= -900') in finding(result, 'lmk_reaches_protected')['message']


def test_systemd_oomd_without_swap(host):
    host.meminfo(2048 * MIB, swap=0, swap_free=0)
    host.swaps([])
    host.task(845, 'systemd-oomd', 0, '/system.slice/systemd-oomd.service')
    result = host.run(path=host.path('missing'))
    assert finding(result, 'oomd_no_swap')['message'].startswith(
        'systemd-oomd is running (pid 845) but no swap is active: its SwapUsedLimit=90% never triggers')
    host.swaps([('/swapfile', 'file', 1048572, 0, -2)])
    host.meminfo(2048 * MIB, swap=1024 * MIB, swap_free=1024 * MIB)
    assert 'oomd_no_swap' not in codes(host.run(path=host.path('missing')))
