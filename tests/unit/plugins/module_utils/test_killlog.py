# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kill-log parser against sample logs built from the kernel's and the tools' format strings."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import calendar
import os
import time

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import killlog

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'killlog')
ALL_FIXTURES = sorted(os.listdir(FIXTURES))


def read(name):
    with open(os.path.join(FIXTURES, name), 'rb') as f:
        return f.read()


def kills_in(name, page_size=4096):
    return list(killlog.parse_lines(read(name).decode('utf-8').splitlines(True), page_size=page_size))


def summary(kills, *fields):
    fields = fields or ('killer', 'pid', 'comm', 'adj', 'rss_kb', 'signal', 'cgroup')
    return [tuple(kill[field] for field in fields) for kill in kills]


def parse(*lines):
    return list(killlog.parse_lines(lines))


# ---------------------------------------------------------------------------
# Every generation of every format

def test_lowmemorykiller_2_6_to_3_4():
    kills = kills_in('lmk-2.6.log')
    assert summary(kills) == [
        ('lowmemorykiller', 2291, 'Web Content', 15, 4520 * 4, 'SIGKILL', None),
        ('lowmemorykiller', 1830, '(sd-pam)', 12, 310 * 4, 'SIGKILL', None),
        ('lowmemorykiller', 77, 'kworker/u8:1', 6, 12 * 4, 'SIGKILL', None),
        # a vendor variant printing the size in bytes, and one with tabs inside the format string
        ('lowmemorykiller', 3001, 'mediaserver', 8, 8388608 // 1024, 'SIGKILL', None),
        ('lowmemorykiller', 3002, 'com.example', 10, 2048 * 4, 'SIGKILL', None),
    ]
    assert [kill['time'] for kill in kills] == ['521.004455', '522.113051', None, '2048.200000', '2049.300000']


def test_lowmemorykiller_size_uses_the_page_size():
    kills = kills_in('lmk-2.6.log', page_size=16384)
    assert kills[0]['rss_kb'] == 4520 * 16


def test_lowmemorykiller_3_10_behind_syslog():
    kills = kills_in('lmk-3.10.log')
    assert summary(kills, 'time', 'pid', 'comm', 'adj', 'rss_kb') == [
        ('Feb  4 02:28:44', 1204, 'mysqld', 0, 204800),
        ('Feb  4 02:28:45', 1500, 'php5-fpm', 0, 31744),
        ('Feb  4 02:31:12', 1790, 'sshd', 0, 4096),
    ]


def test_lowmemorykiller_4_9_multi_line_records_are_one_kill_each():
    kills = kills_in('lmk-4.9.log')
    assert summary(kills) == [
        ('lowmemorykiller', 6310, 'com.android.chrome', 906, 131600, None, None),
        # "(tgid N)" names the process; "to free" counts swap too on that vendor kernel
        ('lowmemorykiller', 7001, 'Web Content', 900, 52100, None, None),
        ('lowmemorykiller', 2871, 'android.process.media', 800, 30220, None, None),
        # oom_score_adj preferred to the old oom_adj scale
        ('lowmemorykiller', 1020, 'system_server', 0, 250000, None, None),
        ('lowmemorykiller', 4412, 'com.whatsapp', 700, 90112, None, None),
        ('lowmemorykiller', 3999, 'com.netflix', 900, 204800, None, None),
        ('lowmemorykiller', 911, 'node', 300, 409600, None, None),
    ]
    assert [len(kill['lines']) for kill in kills] == [4, 5, 10, 4, 1, 1, 4]
    assert kills[2]['lines'][-1].endswith('GFP mask is 0x14000c0')
    # /dev/kmsg escapes the record's newlines; its stamp is microseconds since boot
    assert kills[4]['time'] == '8400.123456'
    assert kills[6]['lines'][-1].strip() == 'Free memory is 900kB above reserved'


def test_lowmemorykiller_threshold_adj_is_not_the_victims():
    """'for oom_score_adj 529' is the threshold that was crossed, not the victim's adj."""
    kills = parse("[ 1.0] lowmemorykiller: Killing 'app' (42), adj 906,\n",
                  '[ 1.0]    to free 100kB on behalf of \'kswapd0\' (95) because\n',
                  '[ 1.0]    cache 1kB is below limit 2kB for oom_score_adj 529\n')
    assert summary(kills, 'adj', 'rss_kb') == [(906, 100)]


def test_oom_killer_2_6():
    kills = kills_in('oom-2.6.log')
    assert summary(kills, 'killer', 'pid', 'comm', 'rss_kb') == [
        ('oom-killer', 4120, 'httpd', None),
        ('oom-killer', 5010, 'java', None),
        ('oom-killer', 6001, 'mysqld', None),
        ('oom-killer', 6100, 'numa-app', None),
        ('oom-killer', 6200, 'Xorg', 80100 + 12000),
    ]


def test_oom_killer_3_x_and_4_x():
    kills = kills_in('oom-3.x-4.x.log')
    assert summary(kills) == [
        ('oom-killer', 1822, 'java', None, 1724848, None, None),
        ('oom-killer', 1830, 'java', None, None, None, None),
        ('cgroup-oom', 2951, 'stress', None, 261284 + 204, None, '/docker/3f1c'),
        ('oom-killer', 3300, 'Web Content', None, 1014760 + 3716 + 101880, None, None),
    ]
    # the oom_reaper line belongs to its kill, even with another line in between
    assert kills[3]['lines'][-1].endswith('now anon-rss:0kB, file-rss:0kB, shmem-rss:101880kB')
    assert len(kills[3]['lines']) == 2


def test_oom_killer_5_x_and_6_x_with_summaries():
    kills = kills_in('oom-5.x-6.x.log')
    assert summary(kills) == [
        ('cgroup-oom', 18231, 'python3', 0, 55808 + 6600, None, '/lmkinfo-test'),
        ('oom-killer', 41234, 'Isolated Web Co', 167, 1563388 + 4472,
         None, '/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope'),
        ('oom-killer', 90210, 'cc1plus', 0, 1902048, None, '/user.slice/user-1000.slice/session-3.scope'),
        ('oom-killer', 1201, '(sd-pam)', 100, 1512, None, '/system.slice/systemd-journald.service'),
    ]
    assert [kill['time'] for kill in kills] == [
        '2392.102421', 'Sun Feb  4 02:28:44 2024', '2024-02-05T10:00:00.223499+01:00', '812.303040']
    # summary, kill and oom_reaper: one kill of three lines
    assert [line.split('] ', 1)[1][:14] for line in kills[1]['lines']] == [
        'oom-kill:const', 'Out of memory:', 'oom_reaper: re']


def test_earlyoom_every_version_and_every_signal_an_entry():
    kills = kills_in('earlyoom.log')
    assert summary(kills, 'pid', 'comm', 'adj', 'rss_kb', 'signal') == [
        (4410, 'chromium', None, None, None),               # 0.x: "Killing process PID (NAME)"
        (4500, 'Web Content', None, 2100 * 1024, None),     # 1.1
        (4600, 'Web Content', None, 2200 * 1024, 'SIGTERM'),  # 1.2: "with signal 15"
        (4700, 'java', None, 5012 * 1024, 'SIGTERM'),       # 1.3
        (4800, 'Web Content', None, 3000 * 1024, 'SIGTERM'),  # 1.4 - 1.7
        (4800, 'Web Content', None, 3000 * 1024, 'SIGKILL'),  # ... escalated
        (5100, 'Isolated Web Co', None, 2811 * 1024, 'SIGTERM'),  # 1.8: SIGTERM, SIGTERM again, SIGKILL
        (5100, 'Isolated Web Co', None, 2811 * 1024, 'SIGTERM'),
        (5100, 'Isolated Web Co', None, 2811 * 1024, 'SIGKILL'),
        (5200, 'node (worker)', 200, 4096 * 1024, 'SIGKILL'),  # 1.9
        # 5300 (dry run) and 5400 (kill failed) were not killed
    ]
    assert set(kill['killer'] for kill in kills) == set(['earlyoom'])


def test_systemd_oomd():
    kills = kills_in('systemd-oomd.log')
    assert summary(kills, 'killer', 'pid', 'comm', 'cgroup') == [
        ('systemd-oomd', None, None, '/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4102.scope'),
        ('systemd-oomd', None, None, '/system.slice/build.service'),
        ('systemd-oomd', None, None, '/user.slice/user-1000.slice/session-2.scope'),
        ('systemd-oomd', None, None, '/user.slice/user-1000.slice/user@1000.service/app.slice/snap.code.code-b1f9.scope'),
        ('systemd-oomd', None, None, '/system.slice/docker-ab12.scope'),
    ]


def test_android_lmkd():
    kills = kills_in('lmkd.logcat')
    assert summary(kills, 'killer', 'pid', 'comm', 'adj', 'rss_kb', 'time') == [
        ('lmkd', 5123, 'com.google.android.gm', 906, 81224, '02-04 02:28:44.123'),
        ('lmkd', 6001, 'com.spotify.music', 900, 120332, '02-04 02:30:01.456'),
        ('lmkd', 7333, 'com.android.chrome:sandboxed_process0', 925, 65000, '02-04 02:40:00.001'),
        ('lmkd', 7400, 'com.facebook.katana', 900, 200100, '02-04 02:41:00.001'),
        ('lmkd', 7500, 'com.whatsapp', 935, 97000, '02-04 02:42:00.001'),
        ('lmkd', 7600, 'com.instagram.android', 900, 150000, None),
    ]
    assert len(kills[1]['lines']) == 3


def test_nohang_corrective_actions():
    kills = kills_in('nohang.log')
    assert summary(kills) == [
        ('nohang', 3101, 'firefox', None, 1800 * 1024, 'SIGTERM', None),
        ('nohang', 3200, 'stress', None, None, 'SIGKILL', None),
        ('nohang', 4100, 'chromium', 300, 1500 * 1024, 'SIGTERM', None),
        ('nohang', 4200, 'Web Content', 100, 1900 * 1024, 'SIGTERM', '/user.slice/user-1000.slice/session-2.scope'),
        ('nohang', 51234, 'Isolated Web Co', 167, 1733 * 1024, 'SIGTERM',
         '/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope'),
        # 3300 was gone ("No such process"); 51300 died before the signal
    ]
    # the victim block and the action are one record
    assert kills[4]['lines'][0].endswith('Victim status (found in 3ms):')
    assert kills[4]['lines'][-1].endswith('Sending SIGTERM to the victim')


MEMCG_5 = 'Memory cgroup out of memory (constraint=CONSTRAINT_MEMCG, oom_memcg=/lmkinfo-test)'
GLOBAL_5 = 'Out of memory (constraint=CONSTRAINT_NONE)'
SIGTERM_LIMITS = 'at or below SIGTERM limits: mem %s, swap %s'
OOMD_PRESSURE = 'memory pressure for %s being %s > %s for > %s with reclaim activity'
USER_SERVICE = '/user.slice/user-1000.slice/user@1000.service'


@pytest.mark.parametrize('name, expected', [
    ('earlyoom.log', [(None, None, None), (None, None, None), (None, None, None),
                      (None, SIGTERM_LIMITS % ('9.80%', '10.00%'), None), (1000, None, None), (1000, None, None),
                      (1000, SIGTERM_LIMITS % ('9.95%', '3.00%'), None), (1000, None, None), (1000, None, None),
                      (1000, None, None)]),
    ('lmk-4.9.log', [(None, 'cache %dkB is below limit %dkB for oom_score_adj %d' % row, None) for row in (
        (178020, 184320, 906), (40000, 61440, 529), (60000, 64000, 529), (10000, 18432, 0), (50000, 55296, 529),
        (30000, 40960, 900), (12000, 16384, 300))]),
    ('lmkd.logcat', [(10071, 'system is under critical memory pressure oom_adj 800', None),
                     (10090, 'cache 151200kB is below limit 153600kB for oom_adj 900', None),
                     (99011, None, None), (10120, 'low watermark is breached', None),
                     (10130, 'low watermark is breached and swap is low (4092kB < 314572kB)', None),
                     (10140, 'device is low on swap', None)]),
    ('nohang.log', [(None, None, None), (None, None, None), (1000, None, None), (1000, None, None),
                    (1000, 'MemAvailable [250.0 MiB, 3.2 %] <= soft_threshold_min_mem [311.2 MiB, 4.0 %]; '
                           'SwapFree [0.0 MiB, 0.0 %] <= soft_threshold_min_swap [0.0 MiB, 0.0 %]', None)]),
    ('oom-2.6.log', [(None, 'Out of Memory', None), (None, 'Out of memory', None), (None, 'Out of memory', None),
                     (None, 'No available memory (MPOL_BIND)', None), (None, None, None)]),
    ('oom-3.x-4.x.log', [(None, 'Out of memory', None), (None, 'Out of memory', None),
                         (None, 'Memory cgroup out of memory (limit of /docker/3f1c)', None), (None, 'Out of memory', None)]),
    ('oom-5.x-6.x.log', [(0, MEMCG_5, None), (1000, GLOBAL_5, None), (1000, GLOBAL_5, None), (0, GLOBAL_5, None)]),
    ('systemd-oomd.log', [
        (None, OOMD_PRESSURE % (USER_SERVICE, '63.51%', '50.00%', '20s'), None),
        (None, 'swap used (8306343936) / total (8589930496) being more than 90.00%', None),
        (None, 'memory used (16000000000) / total (16700000000) and swap used (8000000000) / total (8500000000) being more '
               'than 90.00%', None),
        (None, OOMD_PRESSURE % (USER_SERVICE, '71.20%', '50.00%', '20s'), None),
        (None, 'memory used (15000000000) / total (16000000000) and swap used (3900000000) / total (4000000000) being more '
               'than 90.00%', None)]),
])
def test_uid_trigger_and_action_in_sample_logs(name, expected):
    assert summary(kills_in(name), 'uid', 'trigger', 'action') == expected


def test_wrapped_and_cut_lines():
    kills = kills_in('wrapped.eml')
    assert summary(kills) == [
        ('lowmemorykiller', 1204, 'mysqld', 0, 204800, 'SIGKILL', None),
        ('oom-killer', 1500, 'php5-fpm', None, 123000, None, None),
        ('oom-killer', 1600, 'apache2', None, 51000, None, None),
        ('oom-killer', 1700, 'memcached', 0, 64000, None, '/system.slice/memcached.service'),
        # cut by a bug tracker: what is there is reported, the rest is null
        ('oom-killer', 1800, None, None, None, None, None),
        ('lowmemorykiller', 1900, 'java', 0, None, 'SIGKILL', None),
        ('earlyoom', 2000, 'Web Content', None, None, 'SIGTERM', None),
    ]
    assert [len(kill['lines']) for kill in kills[:4]] == [2, 3, 2, 3]


def test_shapes_seen_in_public_bug_reports():
    kills = kills_in('shapes.log')
    assert summary(kills, 'time', 'killer', 'pid', 'comm', 'rss_kb', 'signal', 'cgroup') == [
        # journalctl in a French and a Russian locale
        ('avril 16 21:08:50', 'systemd-oomd', None, None, None, None,
         '/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-slack-9623.scope'),
        (u'\u0430\u043f\u0440 28 01:23:30', 'oom-killer', 27541, 'bash', 8098448 + 3264, None, None),
        # a test VM's console ("machine # ")
        ('16.912000', 'oom-killer', 867, 'mysqld', 452468, None, None),
        # journalctl -o short-monotonic; the one process oomd signalled is named
        ('77.749670', 'systemd-oomd', 407, None, None, None, '/system.slice/systemd-journald.service'),
        # two processes signalled: no single pid; the line was cut short by a pager
        ('Sep 10 14:59:49', 'systemd-oomd', None, None, None, None, '/testsuite.slice/workload.slice/testbloat.service'),
        # earlyoom 1.3-rc's own output, without any prefix
        (None, 'earlyoom', 27600, 'bash', 7609 * 1024, 'SIGTERM', None),
        # "kill failed: Timer expired": the signal went out, the process took too long; then sent again
        ('Jun 12 06:39:16', 'earlyoom', 696, 'ipfs', 637 * 1024, 'SIGTERM', None),
        ('Jun 12 06:39:26', 'earlyoom', 696, 'ipfs', 656 * 1024, 'SIGTERM', None),
        # wrapped by a bug tracker inside a number, then its oom_reaper line
        ('Jun 21 13:18:41', 'oom-killer', 1400, 'mysqld', 285364, None, None),
    ]
    assert [len(kill['lines']) for kill in kills] == [1, 1, 1, 2, 3, 1, 1, 1, 3]


@pytest.mark.parametrize('text, continuation, joined', [
    ('anon-rss:2', '85364kB, file-rss:0kB', 'anon-rss:285364kB, file-rss:0kB'),
    ('free:3224kB inactive_anon', ':3944kB', 'free:3224kB inactive_anon:3944kB'),
    ('Killed process 1 (Web', 'Content) total-vm:1kB', 'Killed process 1 (Web Content) total-vm:1kB'),
    ('anon-rss:1kB,', 'file-rss:0kB', 'anon-rss:1kB, file-rss:0kB'),
])
def test_wraps_inside_words_join_without_a_blank(text, continuation, joined):
    assert killlog._join(text, continuation) == joined


def test_negatives_record_nothing():
    assert kills_in('negatives.log') == []


@pytest.mark.parametrize('lines', [
    # a process adjusting its own oom_score_adj
    ['[ 12.3] chrome (2210): /proc/2210/oom_adj is deprecated, please use /proc/2210/oom_score_adj instead.',
     '[ 13.0] updating oom_score_adj for 2301 (chrome) from 0 to 300 because it shares mm with 2300 (chrome). '
     'Report if this is unexpected.',
     'Feb  4 02:00:00 web1 sshd[812]: Set /proc/self/oom_score_adj to -1000'],
    # a SysRq memory dump
    ['[ 900.1] sysrq: Show Memory', '[ 900.1] Mem-Info:', '[ 900.1] Free swap  = 0kB', '[ 900.1] 131070 pages RAM'],
    # earlyoom starting up: its banner prints the thresholds, and its self-test sends signal 0
    ['earlyoom[400]: sending SIGTERM when mem <= 10.00% and swap <= 10.00%,',
     'earlyoom[400]:         SIGKILL when mem <=  5.00% and swap <=  5.00%',
     'earlyoom[400]: sending 0 (no-op signal) to process 400 uid 0 "earlyoom": badness 0, VmRSS 2 MiB'],
    # the OOM killer's task list
    ['[ 4000.1] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name',
     '[ 4000.1] [    612]     0   612     2340      312    53248        0         -1000 earlyoom',
     '[ 4000.1] [   2001]  1000  2001   123456     9000   401408        0           300 Kill process'],
    # candidates, and the lines that only add to a kill
    ['[ 5.0] lowmemorykiller: select 1204 (mysqld), adj 0, size 51200, to kill',
     '[ 5.0] Out of memory: Kill process 1206 (java) score 845 or sacrifice child',
     '[ 5.0] oom_reaper: reaped process 1207 (java), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB',
     '[ 5.0] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,task=java,pid=1208,uid=0'],
    # systemd stopping a unit, and reporting a kill that the kernel log already has
    ['systemd[1]: nginx.service: Killing process 2100 (nginx) with signal SIGKILL.',
     'systemd[1]: nginx.service: A process of this unit has been killed by the OOM killer.'],
])
def test_not_kills(lines):
    assert parse(*lines) == []


def test_a_candidate_names_another_pid_than_the_kill():
    kills = parse('[ 1.0] Out of memory: Kill process 100 (bash) score 900 or sacrifice child',
                  '[ 1.1] Killed process 101 (stress) total-vm:10kB, anon-rss:8kB, file-rss:0kB, shmem-rss:0kB')
    assert summary(kills, 'pid', 'comm', 'rss_kb') == [(101, 'stress', 8)]


def test_summary_of_another_pid_is_not_merged():
    kills = parse('[ 1.0] oom-kill:constraint=CONSTRAINT_NONE,task_memcg=/a,task=bash,pid=100,uid=0',
                  '[ 1.1] Out of memory: Killed process 101 (stress) total-vm:10kB, anon-rss:8kB, file-rss:0kB')
    assert summary(kills, 'pid', 'cgroup') == [(101, None)]
    assert len(kills[0]['lines']) == 1


@pytest.mark.parametrize('prefix, time', [
    ('', None),
    ('<6>[  123.456789] ', '123.456789'),
    ('[  123.456789] ', '123.456789'),
    ('[  123.456789][ T4411] ', '123.456789'),
    ('[Thu Feb  4 02:28:44 2014] ', 'Thu Feb  4 02:28:44 2014'),
    ('Feb  4 02:28:44 host kernel: ', 'Feb  4 02:28:44'),
    ('Feb  4 02:28:44 host kernel: [12345.678901] ', 'Feb  4 02:28:44'),
    ('Feb 04 02:28:44.123456 host kernel: ', 'Feb 04 02:28:44.123456'),
    ('Feb  4 02:28:44 host kern.warn kernel: ', 'Feb  4 02:28:44'),
    ('<4>Feb  4 02:28:44 kernel: ', 'Feb  4 02:28:44'),
    ('2024-02-04T02:28:44.123456+00:00 host kernel: ', '2024-02-04T02:28:44.123456+00:00'),
    ('2024-02-04T02:28:44+0000 host kernel: ', '2024-02-04T02:28:44+0000'),
    ('2024-02-04T02:28:44,123456+00:00 ', '2024-02-04T02:28:44,123456+00:00'),
    ('Sun 2024-02-04 02:28:44 UTC host kernel: ', 'Sun 2024-02-04 02:28:44 UTC'),
    ('[ 1234.567890] host kernel: ', '1234.567890'),
    ('<14>1 2024-02-04T02:28:44.123Z host kernel - - - ', '2024-02-04T02:28:44.123Z'),
    ('6,1234,123456789,-;', '123.456789'),
    ('6,1234,123456789,-,caller=T123;', '123.456789'),
    ('kern  :err   : [  123.456789] ', '123.456789'),
    ('> Feb  4 02:28:44 host kernel: [12345.678901] ', 'Feb  4 02:28:44'),
    ('>> > [  123.456789] ', '123.456789'),
    ('    [  123.456789] ', '123.456789'),
])
@pytest.mark.parametrize('comm', ['Web Content', '(sd-pam)', 'kworker/u8:1'])
def test_every_prefix_and_awkward_names(prefix, time, comm):
    line = (prefix + 'Out of memory: Killed process 4242 (%s) total-vm:100kB, anon-rss:40kB, file-rss:2kB, '
            'shmem-rss:1kB, UID:0 pgtables:4kB oom_score_adj:-5' % comm)
    kills = parse(line)
    assert summary(kills, 'killer', 'pid', 'comm', 'adj', 'rss_kb', 'time') == [
        ('oom-killer', 4242, comm, -5, 43, time)]
    assert kills[0]['lines'] == [line]


@pytest.mark.parametrize('line, comm', [
    ('[ 1.0] send sigkill to 9 (Web Content), adj 15, size 10', 'Web Content'),
    ('[ 1.0] send sigkill to 9 ((sd-pam)), adj 15, size 10', '(sd-pam)'),
    ("[ 1.0] lowmemorykiller: Killing 'kworker/u8:1' (9), adj 15,", 'kworker/u8:1'),
    ('earlyoom[1]: sending SIGTERM to process 9 uid 0 "(sd-pam)": oom_score 1, VmRSS 1 MiB, cmdline "x"', '(sd-pam)'),
    ("I lowmemorykiller: Kill 'Web Content' (9), uid 1, oom_score_adj 1 to free 4kB rss, 0kB swap; reason: x",
     'Web Content'),
])
def test_awkward_names_in_every_grammar(line, comm):
    assert summary(parse(line), 'pid', 'comm') == [(9, comm)]


def test_program_and_body():
    prefix = killlog.split_prefix('Feb  4 02:28:44 web1 earlyoom[611]: sending SIGTERM to process 1')
    assert (prefix.wall, prefix.uptime, prefix.program, prefix.body) == (
        'Feb  4 02:28:44', None, 'earlyoom', 'sending SIGTERM to process 1')
    indented = killlog.split_prefix('[ 8034.113990]    to free 131600kB')
    assert indented.body == '   to free 131600kB' and indented.prefixed
    bare = killlog.split_prefix('                 to free 1kB')
    assert bare.body == '                 to free 1kB' and not bare.prefixed


# ---------------------------------------------------------------------------
# Streaming, chunks and speed path

@pytest.mark.parametrize('name', ALL_FIXTURES)
@pytest.mark.parametrize('size', [1, 7, 61, 4096])
def test_scan_chunks_finds_what_parse_lines_finds(name, size):
    data = read(name)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    assert list(killlog.scan_chunks(chunks)) == kills_in(name)


@pytest.mark.parametrize('name', ALL_FIXTURES)
def test_kernel_log_scan_misses_only_nohang_commands(name):
    """userspace=False (kern.log, dmesg) skips the search that only nohang's command lines need."""
    data = read(name)
    expected = [kill for kill in kills_in(name) if not (kill['action'] or '').startswith('command ')]
    assert list(killlog.scan_chunks([data[i:i + 61] for i in range(0, len(data), 61)], userspace=False)) == expected


def test_scan_chunks_last_line_without_newline():
    data = b'[ 1.0] usb 1-1: new device\n[ 2.0] send sigkill to 5 (x), adj 1, size 2'
    assert summary(killlog.scan_chunks([data]), 'pid', 'rss_kb') == [(5, 8)]


def test_nohang_block_across_chunks():
    """The victim block is read back over a chunk boundary."""
    data = read('nohang.log')
    cut = data.index(b'Sending SIGTERM to the victim\n2024') - 5
    assert list(killlog.scan_chunks([data[:cut], data[cut:]])) == kills_in('nohang.log')


def test_parse_lines_streams():
    consumed = []

    def lines():
        yield '[ 1.0] send sigkill to 5 (x), adj 1, size 2\n'
        for number in range(100000):
            consumed.append(number)
            yield '[ 2.0] usb 1-1: line %d\n' % number

    first = next(killlog.parse_lines(lines()))
    assert first['pid'] == 5
    assert len(consumed) < 100


def test_held_kills_are_bounded():
    parser = killlog.KillLogParser()
    out = []
    for pid in range(1000):
        out.extend(parser.feed('[ 1.0] send sigkill to %d (x), adj 1, size 2' % pid))
    assert len(out) >= 1000 - 10
    out.extend(parser.close())
    assert [kill['pid'] for kill in out] == list(range(1000))


def test_source_is_recorded():
    kills = list(killlog.parse_lines(['[ 1.0] send sigkill to 5 (x), adj 1, size 2'], source='/var/log/kern.log'))
    assert kills[0]['source'] == '/var/log/kern.log'
    assert sorted(kills[0]) == sorted(killlog.KILL_FIELDS)


# ---------------------------------------------------------------------------
# Times

def test_absolute_time_iso_and_journal():
    assert killlog.absolute_time('2024-02-04T02:28:44+00:00') == calendar.timegm((2024, 2, 4, 2, 28, 44, 0, 0, 0))
    assert killlog.absolute_time('2024-02-04T03:28:44.5+0100') == calendar.timegm((2024, 2, 4, 2, 28, 44, 0, 0, 0)) + 0.5
    assert killlog.absolute_time('Sun 2024-02-04 02:28:44 UTC') == calendar.timegm((2024, 2, 4, 2, 28, 44, 0, 0, 0))


def test_absolute_time_local_forms():
    local = time.mktime((2014, 2, 4, 2, 28, 44, 0, 0, -1))
    assert killlog.absolute_time('Tue Feb  4 02:28:44 2014') == local
    assert killlog.absolute_time('Feb  4 02:28:44', year=2014) == local
    assert killlog.absolute_time('02-04 02:28:44.250', year=2014) == local + 0.25
    assert killlog.absolute_time('2014-02-04 02:28:44') == local


def test_absolute_time_syslog_year_from_the_files_date():
    january = time.mktime((2015, 1, 10, 12, 0, 0, 0, 0, -1))
    # a December line in a file written in January is from the year before
    assert killlog.absolute_time('Dec 31 23:00:00', reference=january) == time.mktime((2014, 12, 31, 23, 0, 0, 0, 0, -1))
    assert killlog.absolute_time('Jan  9 23:00:00', reference=january) == time.mktime((2015, 1, 9, 23, 0, 0, 0, 0, -1))
    assert killlog.absolute_time('Jan  9 23:00:00') is None


def test_absolute_time_uptime_needs_the_boot_time():
    assert killlog.absolute_time('123.5', boot_time=1000) == 1123.5
    assert killlog.absolute_time('123.5') is None
    assert killlog.absolute_time(None) is None
    assert killlog.absolute_time('yesterday') is None


@pytest.mark.parametrize('text, expected', [
    ('90m', 100000 - 5400),
    ('12h', 100000 - 43200),
    ('1d', 100000 - 86400),
    ('2w', 100000 - 1209600),
])
def test_since_durations(text, expected):
    assert killlog.since_epoch(text, 100000) == expected


def test_since_dates():
    assert killlog.since_epoch('2024-02-04', 0) == time.mktime((2024, 2, 4, 0, 0, 0, 0, 0, -1))
    assert killlog.since_epoch('2024-02-04 02:28', 0) == time.mktime((2024, 2, 4, 2, 28, 0, 0, 0, -1))
    assert killlog.since_epoch('2024-02-04T02:28:44', 0) == time.mktime((2024, 2, 4, 2, 28, 44, 0, 0, -1))


@pytest.mark.parametrize('text', ['yesterday', '5 parsecs', '2024-13-01', '-2h'])
def test_since_rejects_other_forms(text):
    with pytest.raises(ValueError, match='^since: '):
        killlog.since_epoch(text, 0)
