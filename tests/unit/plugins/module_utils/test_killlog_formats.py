# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every kill-record format of docs/kill-records.md: a record printed from the killer's own format string
(copied from its source, filled with realistic values, behind the log prefixes the parser handles), and
every field the parser must take from it. Each case id is the one docs/kill-records.md names."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import killlog

# printf conversions as the sources write them, with their length modifiers (%lu, %hd, %lld, %5.2lf...)
_CONVERSION = re.compile(r'%([-#0 ]?\d*(?:\.\d+)?)(?:hh|h|ll|l|z)?([diuxsf])')


def printf(fmt, *args):
    """A C format string filled as printf fills it."""
    return _CONVERSION.sub(r'%\1\2', fmt) % args


def kernel(stamp, text):
    """A kernel message as dmesg prints it: each of its lines behind the same [uptime]."""
    return ['[%12.6f] %s' % (stamp, line) for line in text.rstrip('\n').split('\n')]


def daemon(prefix, text):
    """A daemon's message in syslog or the journal: each line behind the same prefix."""
    return [prefix + line for line in text.rstrip('\n').split('\n')]


def expect(**fields):
    """A kill with the given fields and null for every other (source and lines are checked apart)."""
    kill = dict((key, None) for key in killlog.KILL_FIELDS if key not in ('source', 'lines'))
    unknown = set(fields) - set(kill)
    assert not unknown, unknown
    kill.update(fields)
    return kill


def is_command(kill):
    return (kill['action'] or '').startswith('command ')


def found(lines):
    """The kills of parse_lines, checked to be those of scan_chunks (7-byte chunks), without source and lines."""
    by_lines = list(killlog.parse_lines(lines))
    data = ''.join(line + '\n' for line in lines).encode('utf-8')
    assert list(killlog.scan_chunks(data[i:i + 7] for i in range(0, len(data), 7))) == by_lines
    # the kernel logs' scan (kern.log, dmesg) may miss nohang's command actions (a command holding a kill
    # word, "pkill firefox", is still found), and nothing else
    kernel_scan = list(killlog.scan_chunks([data], userspace=False))
    assert [kill for kill in kernel_scan if not is_command(kill)] == [kill for kill in by_lines if not is_command(kill)]
    assert all(kill in by_lines for kill in kernel_scan)
    return [dict((key, value) for key, value in kill.items() if key not in ('source', 'lines')) for kill in by_lines]


# ---------------------------------------------------------------------------
# The kernel OOM killer, mm/oom_kill.c

SYSLOG_KERNEL = 'Feb  4 02:28:44 db1 kernel: '
SUMMARY_4_19 = ('oom-kill:constraint=%s,nodemask=%s,cpuset=%s,mems_allowed=%s,oom_memcg=%s,task_memcg=%s,'
                'task=%s,pid=%d,uid=%d')
SUMMARY_4_19_GLOBAL = 'oom-kill:constraint=%s,nodemask=%s,cpuset=%s,mems_allowed=%s,global_oom,task_memcg=%s,task=%s,pid=%d,uid=%d'
KILLED_5 = ('%s: Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB, shmem-rss:%lukB, UID:%u '
            'pgtables:%lukB oom_score_adj:%hd\n')

OOM_CASES = [
    ('oom-2.6.0', daemon(SYSLOG_KERNEL, printf('Out of Memory: Killed process %d (%s).\n', 4120, 'httpd')),
     [expect(time='Feb  4 02:28:44', killer='oom-killer', pid=4120, comm='httpd', trigger='Out of Memory')]),
    ('oom-2.6-candidate',
     kernel(3100.22, printf('%s: kill process %d (%s) score %li or a child\n', 'Out of memory', 6001, 'mysqld', 120332))
     + kernel(3100.2201, printf('Killed process %d (%s)\n', 6001, 'mysqld')),
     [expect(time='3100.220100', killer='oom-killer', pid=6001, comm='mysqld', trigger='Out of memory')]),
    ('oom-2.6-mpol',
     kernel(3200.0, printf('%s: kill process %d (%s) score %li or a child\n', 'No available memory (MPOL_BIND)', 6100,
                           'numa-app', 0))
     + kernel(3200.0001, printf('Killed process %d (%s)\n', 6100, 'numa-app')),
     [expect(time='3200.000100', killer='oom-killer', pid=6100, comm='numa-app', trigger='No available memory (MPOL_BIND)')]),
    ('oom-2.6.35-vsz',
     kernel(3300.0, printf('Killed process %d (%s) vsz:%lukB, anon-rss:%lukB, file-rss:%lukB\n', 6200, 'Xorg', 312044, 80100,
                           12000)),
     [expect(time='3300.000000', killer='oom-killer', pid=6200, comm='Xorg', rss_kb=92100)]),
    ('oom-2.6.36-4.5',
     daemon(SYSLOG_KERNEL, printf('%s: Kill process %d (%s) score %d or sacrifice child\n', 'Out of memory', 1822, 'java', 845))
     + daemon(SYSLOG_KERNEL, printf('Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB\n', 1822, 'java',
                                    3948860, 1724848, 0)),
     [expect(time='Feb  4 02:28:44', killer='oom-killer', pid=1822, comm='java', rss_kb=1724848, trigger='Out of memory')]),
    ('oom-rhel6',
     daemon(SYSLOG_KERNEL, printf('%s invoked oom-killer: gfp_mask=0x%x, order=%d, oom_adj=%d, oom_score_adj=%d\n', 'java',
                                  0x201da, 0, 0, 0))
     + daemon(SYSLOG_KERNEL, printf('Killed process %d, UID %d, (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB\n', 2382,
                                    501, 'java', 3948860, 1724848, 1200)),
     [expect(time='Feb  4 02:28:44', killer='oom-killer', pid=2382, comm='java', rss_kb=1726048, uid=501)]),
    ('oom-4.6-shmem',
     kernel(876789.0006, printf('%s: Kill process %d (%s) score %u or sacrifice child\n', 'Out of memory', 3300, 'Web Content',
                                700))
     + kernel(876789.0007, printf('Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB, shmem-rss:%lukB\n',
                                  3300, 'Web Content', 2963764, 1014760, 3716, 101880))
     + kernel(876789.05, printf('oom_reaper: reaped process %d (%s), now anon-rss:%lukB, file-rss:%lukB, shmem-rss:%lukB\n',
                                3300, 'Web Content', 0, 0, 101880)),
     [expect(time='876789.000700', killer='oom-killer', pid=3300, comm='Web Content', rss_kb=1014760 + 3716 + 101880,
             trigger='Out of memory')]),
    ('oom-memcg-before-4.19',
     kernel(873189.0003, 'Task in /docker/3f1c killed as a result of limit of /docker')
     + kernel(873189.0006, printf('%s: Kill process %d (%s) score %u or sacrifice child\n', 'Memory cgroup out of memory', 2950,
                                  'stress', 996))
     + kernel(873189.0007, printf('Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB, shmem-rss:%lukB\n',
                                  2951, 'stress', 269012, 261284, 204, 0)),
     [expect(time='873189.000700', killer='cgroup-oom', pid=2951, comm='stress', rss_kb=261488, cgroup='/docker/3f1c',
             trigger='Memory cgroup out of memory (limit of /docker)')]),
    ('oom-sharing',
     kernel(870431.2318, printf('%s: Kill process %d (%s) score %u or sacrifice child\n', 'Out of memory', 1822, 'java', 845))
     + kernel(870431.232, printf('Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB\n', 1822, 'java',
                                 3948860, 1724848, 0))
     + kernel(870431.2321, printf('Kill process %d (%s) sharing same memory\n', 1830, 'java')),
     [expect(time='870431.232000', killer='oom-killer', pid=1822, comm='java', rss_kb=1724848, trigger='Out of memory'),
      expect(time='870431.232100', killer='oom-killer', pid=1830, comm='java', trigger='Out of memory')]),
    ('oom-5.x-6.x',
     kernel(2392.102383, printf(SUMMARY_4_19_GLOBAL, 'CONSTRAINT_NONE', '(null)', '/', '0',
                                '/user.slice/user-1000.slice/session-3.scope', 'cc1plus', 90210, 1000))
     + kernel(2392.102421, printf(KILLED_5, 'Out of memory', 90210, 'cc1plus', 2097152, 1900000, 2048, 0, 1000, 4000, 0))
     + kernel(2392.2, printf('oom_reaper: reaped process %d (%s), now anon-rss:%lukB, file-rss:%lukB, shmem-rss:%lukB\n',
                             90210, 'cc1plus', 0, 0, 0)),
     [expect(time='2392.102421', killer='oom-killer', pid=90210, comm='cc1plus', adj=0, rss_kb=1902048, uid=1000,
             cgroup='/user.slice/user-1000.slice/session-3.scope', trigger='Out of memory (constraint=CONSTRAINT_NONE)')]),
    ('oom-memcg-5.x-6.x',
     kernel(2392.102383, printf(SUMMARY_4_19, 'CONSTRAINT_MEMCG', '(null)', '/', '0', '/lmkinfo-test', '/lmkinfo-test/job',
                                'python3', 18231, 33))
     + kernel(2392.102421, printf(KILLED_5, 'Memory cgroup out of memory', 18231, 'python3', 65908, 55808, 6600, 0, 33, 164,
                                  -200)),
     [expect(time='2392.102421', killer='cgroup-oom', pid=18231, comm='python3', adj=-200, rss_kb=62408, uid=33,
             cgroup='/lmkinfo-test/job',
             trigger='Memory cgroup out of memory (constraint=CONSTRAINT_MEMCG, oom_memcg=/lmkinfo-test)')]),
]


# ---------------------------------------------------------------------------
# The lowmemorykiller driver, drivers/staging/android/lowmemorykiller.c (and vendor copies)

LMK_4_9 = ("Killing '%s' (%d), adj %hd,\n"
           "   to free %ldkB on behalf of '%s' (%d) because\n"
           "   cache %ldkB is below limit %ldkB for oom_score_adj %hd\n"
           "   Free memory is %ldkB above reserved\n")
LMK_MSM = ("Killing '%s' (%d), adj %hd,\n"
           "   to free %ldkB on behalf of '%s' (%d) because\n"
           "   cache %ldkB is below limit %ldkB for oom_score_adj %hd\n"
           "   Free memory is %ldkB above reserved.\n"
           "   Free CMA is %ldkB\n"
           "   Total reserve is %ldkB\n"
           "   Total free pages is %ldkB\n"
           "   Total file cache is %ldkB\n"
           "   GFP mask is 0x%x\n")
LMK_HSWAP = ("Killing '%s' (%d), adj %hd, reclaimable cnt %d\n"
             "   to free %ldkB on behalf of '%s' (%d) because\n"
             "   cache %ldkB is below limit %ldkB for oom_score_adj %hd\n"
             "   Free memory is %ldkB above reserved.\n")

LMK_CASES = [
    ('lmk-2.6.29-3.x',
     kernel(521.004419, printf('select %d (%s), adj %d, size %d, to kill\n', 2291, 'Web Content', 15, 4520))
     + kernel(521.004455, printf('send sigkill to %d (%s), adj %d, size %d\n', 2291, 'Web Content', 15, 4520)),
     [expect(time='521.004455', killer='lowmemorykiller', pid=2291, comm='Web Content', adj=15, rss_kb=4520 * 4,
             signal='SIGKILL')]),
    ('lmk-3.10-4.4',
     daemon(SYSLOG_KERNEL, 'lowmemorykiller: ' + printf('send sigkill to %d (%s), adj %hd, size %d\n', 1204, 'mysqld', 0,
                                                        51200)),
     [expect(time='Feb  4 02:28:44', killer='lowmemorykiller', pid=1204, comm='mysqld', adj=0, rss_kb=204800,
             signal='SIGKILL')]),
    ('lmk-4.9-4.11',
     kernel(8034.11399, 'lowmemorykiller: ' + printf(LMK_4_9, 'com.android.chrome', 6310, 906, 131600, 'kswapd0', 95, 178020,
                                                     184320, 906, 11340)),
     [expect(time='8034.113990', killer='lowmemorykiller', pid=6310, comm='com.android.chrome', adj=906, rss_kb=131600,
             trigger='cache 178020kB is below limit 184320kB for oom_score_adj 906')]),
    ('lmk-vendor-msm',
     kernel(8200.5, 'lowmemorykiller: ' + printf(LMK_MSM, 'android.process.media', 2871, 800, 30220, 'kswapd0', 95, 60000,
                                                 64000, 529, 2000, 4096, 11000, 15000, 60000, 0x14000c0)),
     [expect(time='8200.500000', killer='lowmemorykiller', pid=2871, comm='android.process.media', adj=800, rss_kb=30220,
             trigger='cache 60000kB is below limit 64000kB for oom_score_adj 529')]),
    ('lmk-vendor-hswap',
     kernel(8300.0, 'lowmemorykiller: ' + printf(LMK_HSWAP, 'com.sec.android.app', 4001, 900, 12, 52100, 'kswapd0', 95, 40000,
                                                 61440, 900, 3000)),
     [expect(time='8300.000000', killer='lowmemorykiller', pid=4001, comm='com.sec.android.app', adj=900, rss_kb=52100,
             trigger='cache 40000kB is below limit 61440kB for oom_score_adj 900')]),
]


# ---------------------------------------------------------------------------
# Android lmkd, system/memory/lmkd (system/core/lmkd before 2018): logcat tag "lowmemorykiller"

LOGCAT = '02-04 02:28:44.123   612   612 I lowmemorykiller: '
LMKD_2013 = ("Killing '%s' (%d), adj %d\n"
             "   to free %ldkB because cache %ldkB is below limit %ldkB for oom_adj %d\n"
             "   Free memory is %ldkB %s reserved")
LMKD_2014 = ("Killing '%s' (%d), uid %d, adj %d\n"
             "   to free %ldkB because cache %ldkB is below limit %ldkB for oom_adj %d\n"
             "   Free memory is %ldkB %s reserved")
LMKD_2017 = ("Killing '%s' (%d), uid %d, adj %d\n"
             "   to free %ldkB because system is under %s memory pressure oom_adj %d\n")
LMKD_2018 = ("Killing '%s' (%d), uid %d, adj %d\n"
             "   to free %ldkB because system is under %s memory pressure (min_oom_adj=%d)\n")
LMKD_RECLAIMED = 'Reclaimed %ldkB, cache(%ldkB) and free(%ldkB)-reserved(%ldkB) below min(%ldkB) for oom_adj %d'
LMKD_KILLING_TO_RECLAIM = ('Killing to reclaim %ldkB, reclaimed %ldkB, cache(%ldkB) and free(%ldkB)-reserved(%ldkB) '
                           'below min(%ldkB) for oom_adj %d')

LMKD_CASES = [
    ('lmkd-2013', daemon('I/lowmemorykiller(  612): ', printf(LMKD_2013, 'com.android.browser', 5123, 11, 81224, 151200,
                                                              153600, 9, 2120, 'above')),
     [expect(time=None, killer='lmkd', pid=5123, comm='com.android.browser', adj=11, rss_kb=81224,
             trigger='cache 151200kB is below limit 153600kB for oom_adj 9')]),
    ('lmkd-2014-2017', daemon(LOGCAT, printf(LMKD_2014, 'com.spotify.music', 6001, 10090, 900, 120332, 151200, 153600, 900,
                                             -2120, 'below')),
     [expect(time='02-04 02:28:44.123', killer='lmkd', pid=6001, comm='com.spotify.music', adj=900, rss_kb=120332,
             uid=10090, trigger='cache 151200kB is below limit 153600kB for oom_adj 900')]),
    ('lmkd-2017-2018', daemon(LOGCAT, printf(LMKD_2017, 'com.google.android.gm', 5123, 10071, 906, 81224, 'critical', 800)),
     [expect(time='02-04 02:28:44.123', killer='lmkd', pid=5123, comm='com.google.android.gm', adj=906, rss_kb=81224,
             uid=10071, trigger='system is under critical memory pressure oom_adj 800')]),
    ('lmkd-2018', daemon(LOGCAT, printf(LMKD_2018, 'com.google.android.gm', 5123, 10071, 906, 81224, 'medium', 800)),
     [expect(time='02-04 02:28:44.123', killer='lmkd', pid=5123, comm='com.google.android.gm', adj=906, rss_kb=81224,
             uid=10071, trigger='system is under medium memory pressure (min_oom_adj=800)')]),
    ('lmkd-2018-09-killing-to-reclaim',
     daemon(LOGCAT, printf("Kill '%s' (%d), uid %d, oom_adj %d to free %ldkB", 'com.facebook.katana', 7400, 10120, 900, 200100))
     + daemon(LOGCAT, printf(LMKD_KILLING_TO_RECLAIM, 250000, 200100, 51000, 20000, 3000, 61440, 800)),
     [expect(time='02-04 02:28:44.123', killer='lmkd', pid=7400, comm='com.facebook.katana', adj=900, rss_kb=200100,
             uid=10120, trigger='cache(51000kB) and free(20000kB)-reserved(3000kB) below min(61440kB) for oom_adj 800')]),
    ('lmkd-2018-10-reclaimed',
     daemon(LOGCAT, printf("Kill '%s' (%d), uid %d, oom_adj %d to free %ldkB", 'com.facebook.katana', 7400, 10120, 900, 200100))
     + daemon(LOGCAT, printf("Kill '%s' (%d), uid %d, oom_adj %d to free %ldkB", 'com.whatsapp', 7500, 10130, 900, 97000))
     + daemon(LOGCAT, printf(LMKD_RECLAIMED, 297100, 51000, 20000, 3000, 61440, 800)),
     [expect(time='02-04 02:28:44.123', killer='lmkd', pid=7400, comm='com.facebook.katana', adj=900, rss_kb=200100,
             uid=10120, trigger='cache(51000kB) and free(20000kB)-reserved(3000kB) below min(61440kB) for oom_adj 800'),
      expect(time='02-04 02:28:44.123', killer='lmkd', pid=7500, comm='com.whatsapp', adj=900, rss_kb=97000,
             uid=10130, trigger='cache(51000kB) and free(20000kB)-reserved(3000kB) below min(61440kB) for oom_adj 800')]),
    ('lmkd-2019-reason',
     daemon(LOGCAT, printf("Kill '%s' (%d), uid %d, oom_adj %d to free %ldkB; reason: %s", 'com.facebook.katana', 7400, 10120,
                           900, 200100, 'min watermark is breached')),
     [expect(time='02-04 02:28:44.123', killer='lmkd', pid=7400, comm='com.facebook.katana', adj=900, rss_kb=200100,
             uid=10120, trigger='min watermark is breached')]),
    ('lmkd-2021-score-adj',
     daemon(LOGCAT, printf("Kill '%s' (%d), uid %d, oom_score_adj %d to free %ldkB; reason: %s", 'com.whatsapp', 7500, 10130,
                           935, 97000, 'low watermark is breached')),
     [expect(time='02-04 02:28:44.123', killer='lmkd', pid=7500, comm='com.whatsapp', adj=935, rss_kb=97000, uid=10130,
             trigger='low watermark is breached')]),
    ('lmkd-2021-rss-swap',
     daemon(LOGCAT, printf("Kill '%s' (%d), uid %d, oom_score_adj %d to free %ldkB rss, %ldkB swap; reason: %s",
                           'com.instagram.android', 7600, 10140, 900, 150000, 31000,
                           'device is low on swap (4092kB < 314572kB) and thrashing (57%)')),
     [expect(time='02-04 02:28:44.123', killer='lmkd', pid=7600, comm='com.instagram.android', adj=900, rss_kb=150000,
             uid=10140, trigger='device is low on swap (4092kB < 314572kB) and thrashing (57%)')]),
    ('lmkd-2021-no-reason',
     daemon(LOGCAT, printf("Kill '%s' (%d), uid %d, oom_score_adj %d to free %ldkB rss, %ldkB swap", 'com.instagram.android',
                           7600, 10140, 900, 150000, 0)),
     [expect(time='02-04 02:28:44.123', killer='lmkd', pid=7600, comm='com.instagram.android', adj=900, rss_kb=150000,
             uid=10140)]),
]


# ---------------------------------------------------------------------------
# earlyoom (rfjakob/earlyoom, main.c then kill.c)

EARLYOOM = 'Jan 12 13:10:00 laptop earlyoom[304]: '
PRIPCT = '%5.2lf%%'

EARLYOOM_CASES = [
    ('earlyoom-0.1-1.0',
     daemon(EARLYOOM, printf('Out of memory! avail: %lu MiB < min: %lu MiB\n', 97, 783))
     + daemon(EARLYOOM, printf('Killing process %d %s\n', 4410, '(chromium)')),
     [expect(time='Jan 12 13:10:00', killer='earlyoom', pid=4410, comm='chromium', trigger='avail: 97 MiB < min: 783 MiB')]),
    ('earlyoom-1.1',
     daemon(EARLYOOM, printf('Out of memory! mem min: %lu MiB, swap min: %lu MiB\n', 783, 0))
     + daemon(EARLYOOM, printf('Killing process: %s, pid: %d, badness: %d, VmRSS: %lu MiB\n', 'Web Content', 4500, 601, 2100)),
     [expect(time='Jan 12 13:10:00', killer='earlyoom', pid=4500, comm='Web Content', rss_kb=2100 * 1024,
             trigger='mem min: 783 MiB, swap min: 0 MiB')]),
    ('earlyoom-1.2',
     daemon(EARLYOOM, printf('Low Memory! At or below sigterm limits (mem: %d %%, swap: %d %%)\n', 10, 10))
     + daemon(EARLYOOM, printf("Killing process '%s' with signal %d, pid: %d, badness: %d, VmRSS: %lu MiB\n", 'Web Content', 15,
                               4600, 610, 2200)),
     [expect(time='Jan 12 13:10:00', killer='earlyoom', pid=4600, comm='Web Content', rss_kb=2200 * 1024, signal='SIGTERM',
             trigger='At or below sigterm limits (mem: 10 %, swap: 10 %)')]),
    ('earlyoom-1.3-rc1',
     daemon(EARLYOOM, printf('low memory! at or below SIGTERM limits: mem %d %%, swap %d %%\n', 10, 10))
     + daemon(EARLYOOM, printf('killing process %d "%s" with signal %d: badness %d, VmRSS %lu MiB\n', 27600, 'bash', 15, 550,
                               7609)),
     [expect(time='Jan 12 13:10:00', killer='earlyoom', pid=27600, comm='bash', rss_kb=7609 * 1024, signal='SIGTERM',
             trigger='at or below SIGTERM limits: mem 10 %, swap 10 %')]),
    ('earlyoom-1.3',
     daemon(EARLYOOM, printf('low memory! at or below SIGTERM limits: mem %d %%, swap %d %%\n', 10, 10))
     + daemon(EARLYOOM, printf('sending %s to process %d "%s": badness %d, VmRSS %lu MiB\n', 'SIGTERM', 4700, 'java', 822,
                               5012))
     + daemon(EARLYOOM, printf('escalating to SIGKILL after %.1f seconds\n', 0.9)),
     [expect(time='Jan 12 13:10:00', killer='earlyoom', pid=4700, comm='java', rss_kb=5012 * 1024, signal='SIGTERM',
             trigger='at or below SIGTERM limits: mem 10 %, swap 10 %'),
      expect(time='Jan 12 13:10:00', killer='earlyoom', pid=4700, comm='java', rss_kb=5012 * 1024, signal='SIGKILL',
             trigger='at or below SIGTERM limits: mem 10 %, swap 10 %')]),
    ('earlyoom-1.4',
     daemon(EARLYOOM, printf('sending %s to process %d uid %d "%s": badness %d, VmRSS %lu MiB\n', 'SIGKILL', 4800, 1000,
                             'Web Content', 700, 3000)),
     [expect(time='Jan 12 13:10:00', killer='earlyoom', pid=4800, comm='Web Content', rss_kb=3000 * 1024, signal='SIGKILL',
             uid=1000)]),
    ('earlyoom-1.5-1.7',
     daemon(EARLYOOM, printf('low memory! at or below SIGTERM limits: mem ' + PRIPCT + ', swap ' + PRIPCT + '\n', 9.8, 10.0))
     + daemon(EARLYOOM, printf('sending %s to process %d uid %d "%s": badness %d, VmRSS %lld MiB\n', 'SIGTERM', 4900, 1000,
                               'node', 700, 3000))
     + daemon(EARLYOOM, printf('killing whole process group %d (-g flag is active)\n', 4890)),
     [expect(time='Jan 12 13:10:00', killer='earlyoom', pid=4900, comm='node', rss_kb=3000 * 1024, signal='SIGTERM',
             uid=1000, trigger='at or below SIGTERM limits: mem  9.80%, swap 10.00%', action='process group 4890')]),
    ('earlyoom-1.8',
     daemon(EARLYOOM, printf('low memory! at or below SIGKILL limits: mem ' + PRIPCT + ', swap ' + PRIPCT + '\n', 4.95, 0.0))
     + daemon(EARLYOOM, printf('sending %s to process %d uid %d "%s": oom_score %d, VmRSS %lld MiB, cmdline "%s"\n', 'SIGKILL',
                               5100, 1000, 'Isolated Web Co', 812, 2811, '/usr/lib/firefox/firefox -contentproc')),
     [expect(time='Jan 12 13:10:00', killer='earlyoom', pid=5100, comm='Isolated Web Co', rss_kb=2811 * 1024,
             signal='SIGKILL', uid=1000, trigger='at or below SIGKILL limits: mem  4.95%, swap  0.00%')]),
    ('earlyoom-1.9',
     daemon(EARLYOOM, printf('sending %s to process %d uid %d "%s": oom_score %d, oom_score_adj %d, VmRSS %lld MiB, '
                             'cmdline "%s"\n', 'SIGTERM', 5200, 1000, 'node (worker)', 900, 200, 4096, 'node worker.js')),
     [expect(time='Jan 12 13:10:00', killer='earlyoom', pid=5200, comm='node (worker)', adj=200, rss_kb=4096 * 1024,
             signal='SIGTERM', uid=1000)]),
]


# ---------------------------------------------------------------------------
# systemd-oomd, src/oom/oomd-manager.c

OOMD = 'Dec 03 14:01:10 fedora systemd-oomd[845]: '
USER_SERVICE = '/user.slice/user-1000.slice/user@1000.service'
FIREFOX = USER_SERVICE + '/app.slice/app-gnome-firefox-4102.scope'
PRESSURE = 'due to memory pressure for %s being %lu.%02lu%% > %lu.%02lu%% for > %s with reclaim activity'

OOMD_CASES = [
    ('oomd-248-pressure',
     daemon(OOMD, printf('oomd attempting to kill %d with %s', 4102, 'KILL'))
     + daemon(OOMD, printf('Killed %s ' + PRESSURE, FIREFOX, USER_SERVICE, 63, 51, 50, 0, '20s')),
     [expect(time='Dec 03 14:01:10', killer='systemd-oomd', pid=4102, cgroup=FIREFOX,
             trigger='memory pressure for %s being 63.51%% > 50.00%% for > 20s with reclaim activity' % USER_SERVICE)]),
    ('oomd-248-swap',
     daemon(OOMD, printf('Killed %s due to swap used (%lu) / total (%lu) being more than %lu.%02lu%%', '/system.slice/build.service',
                         8306343936, 8589930496, 90, 0)),
     [expect(time='Dec 03 14:01:10', killer='systemd-oomd', cgroup='/system.slice/build.service',
             trigger='swap used (8306343936) / total (8589930496) being more than 90.00%')]),
    ('oomd-memory-and-swap',
     daemon(OOMD, printf('Killed %s due to memory used (%lu) / total (%lu) and swap used (%lu) / total (%lu) being more than '
                         '%lu.%02lu%%', '/user.slice/user-1000.slice/session-2.scope', 16000000000, 16700000000, 8000000000,
                         8500000000, 90, 0)),
     [expect(time='Dec 03 14:01:10', killer='systemd-oomd', cgroup='/user.slice/user-1000.slice/session-2.scope',
             trigger='memory used (16000000000) / total (16700000000) and swap used (8000000000) / total (8500000000) '
                     'being more than 90.00%')]),
    ('oomd-prekill-marked',
     daemon(OOMD, printf('Marked %s for killing ' + PRESSURE, FIREFOX, USER_SERVICE, 71, 20, 50, 0, '20s')),
     [expect(time='Dec 03 14:01:10', killer='systemd-oomd', cgroup=FIREFOX,
             trigger='memory pressure for %s being 71.20%% > 50.00%% for > 20s with reclaim activity' % USER_SERVICE)]),
    ('oomd-prekill-marked-swap',
     daemon(OOMD, printf('Marked %s for killing due to memory used (%lu) / total (%lu) and swap used (%lu) / total (%lu) being '
                         'more than %lu.%02lu%%', '/system.slice/docker-ab12.scope', 15000000000, 16000000000, 3900000000,
                         4000000000, 90, 0)),
     [expect(time='Dec 03 14:01:10', killer='systemd-oomd', cgroup='/system.slice/docker-ab12.scope',
             trigger='memory used (15000000000) / total (16000000000) and swap used (3900000000) / total (4000000000) '
                     'being more than 90.00%')]),
]


# ---------------------------------------------------------------------------
# nohang (hakavlad/nohang, nohang then nohang/nohang then src/nohang): Python str.format strings

NOHANG = '2024-02-04T02:28:44+0000 ws nohang[1001]: '
NOHANG_2018_07_COMMAND = '  Process {} is a victim,\n  Pid: {}, Badness: {}, VmRSS: {} MiB, VmSwap: {} MiB\n  Execute command: {}'
NOHANG_2018_08 = ('  Finding the process with the highest badness\n  Victim is {}, pid: {}, badness: {}, VmRSS: {} MiB, '
                  'VmSwap: {} MiB\n  Sending {} to the victim; {}')
NOHANG_2018_08_COMMAND = ('  Finding the process with the highest badness\n  Victim is {}, pid: {}, badness: {}, VmRSS: {} MiB, '
                          'VmSwap: {} MiB\n  Execute the command: {}\n  Exit status: {}; response time: {} ms')
NOHANG_2018_12_COMMAND = ('  Found the victim with highest badness:\n    Name:    {}\n    Pid:     {}\n    Uid:     {}\n'
                          '    Badness: {}\n    VmRSS:   {} MiB\n    VmSwap:  {} MiB\n  Execute the command: {}\n'
                          '  Exit status: {}; response time: {} ms')
NOHANG_2019_03_VICTIM = ('\nVictim information (found in {} ms):\n  Name:     {}\n  State:    {}\n  PID:      {}\n'
                         '  EUID:     {}\n  badness:  {}, oom_score:  {}, oom_score_adj:  {}\n  VmSize:   {} MiB\n'
                         '  VmRSS:    {} MiB {}\n  VmSwap:   {} MiB\n  Realpath: {}\n  Cmdline:  {}\n  Lifetime: {}')
NOHANG_2019_03_MEMORY = ('Memory status that requires corrective actions (soft threshold exceeded):\n'
                         '  MemAvailable [{} MiB, {} %] <= mem_min_sigterm [{} MiB, {} %]\n'
                         '  SwapFree [{} MiB, {} %] <= swap_min_sigterm [{} MiB, {} %]')
NOHANG_2019_06_VICTIM = ('Victim status (found in {} ms):\n  Name:      {}\n  State:     {}\n  PID:       {}\n  EUID:      {}\n'
                         '  badness:   {}, oom_score:  {}, oom_score_adj:  {}\n  VmSize:    {} MiB\n  VmRSS:     {} MiB {}\n'
                         '  VmSwap:    {} MiB\n  CGroup_v1: {}\n  CGroup_v2: {}\n  Realpath:  {}\n  Lifetime:  {}')
NOHANG_2020_VICTIM = ('Victim status (found in {}ms):\n  PID:       {}, name: {}, state: {}, EUID: {}, SID: {} ({}), lifetime: {}'
                      '\n  badness:   {}, oom_score:  {}, oom_score_adj:  {}\n  Vm, MiB:   Size: {}, RSS: {}{}, Swap: {}'
                      '\n  cgroup_v1: {}\n  cgroup_v2: {}\n  exe realpath: {}\n  cwd realpath: {}')
NOHANG_2020_MEMORY = ('Memory status that requires corrective actions:\n'
                      '  MemAvailable [{} MiB, {} %] <= soft_threshold_min_mem [{} MiB, {} %]\n'
                      '  SwapFree [{} MiB, {} %] <= soft_threshold_min_swap [{} MiB, {} %]')
NOHANG_2020_PSI = ('Memory status that requires corrective actions:\n'
                   '  MemAvailable [{} MiB, {} %] <= hard_threshold_min_mem [{} MiB, {} %]\n'
                   '  Current PSI metric value ({}) >= hard_threshold_max_psi ({})\n'
                   '  PSI metric value exceeded psi_excess_duration (value={}s) for {}s')
FIREFOX_SCOPE = USER_SERVICE + '/app.slice/app-firefox.scope'


def nohang(*messages):
    return sum((daemon(NOHANG, message) for message in messages), [])


NOHANG_CASES = [
    ('nohang-2018-06',
     nohang('  Preventing OOM: trying to send the {} signal to {},\n  Pid: {}, Badness: {}, VmRSS: {} MiB, VmSwap: {} MiB'
            .format('SIGTERM', 'firefox', 3101, 812, 1800, 0), '  Success'),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=3101, comm='firefox', rss_kb=1800 * 1024,
             signal='SIGTERM')]),
    ('nohang-2018-07-command',
     nohang(NOHANG_2018_07_COMMAND.format('firefox', 3101, 812, 1800, 0, 'pkill -STOP firefox')),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=3101, comm='firefox', rss_kb=1800 * 1024,
             action='command pkill -STOP firefox')]),
    ('nohang-2018-08',
     nohang('Low memory; corrective action required!\n  MemAvailable [{} MiB, {} %] <= mem_min_sigterm [{} MiB, {} %]\n'
            '  SwapFree [{} MiB, {} %] <= swap_min_sigterm [{} MiB, {} %]'.format(300, 3.8, 784, 10, 0, 0, 0, '-'),
            NOHANG_2018_08.format('chromium', 4100, 650, 1500, 0, 'SIGTERM', 'signal received; response time: 9 ms')),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=4100, comm='chromium', rss_kb=1500 * 1024,
             signal='SIGTERM', trigger='MemAvailable [300 MiB, 3.8 %] <= mem_min_sigterm [784 MiB, 10 %]; '
                                       'SwapFree [0 MiB, 0 %] <= swap_min_sigterm [0 MiB, - %]')]),
    ('nohang-2018-08-command',
     nohang(NOHANG_2018_08_COMMAND.format('chromium', 4100, 650, 1500, 0, 'systemctl restart chromium-kiosk', 0, 120)),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=4100, comm='chromium', rss_kb=1500 * 1024,
             action='command systemctl restart chromium-kiosk')]),
    ('nohang-2018-12-command',
     nohang(NOHANG_2018_12_COMMAND.format('tracker-store', 4300, 1000, 500, 700, 0, 'kill -9 4300', 0, 15)),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=4300, comm='tracker-store', rss_kb=700 * 1024,
             uid=1000, action='command kill -9 4300')]),
    ('nohang-2018-12-send',
     nohang('\x1b[4mFound a process with highest badness:\x1b[0m\n  Name:    \x1b[33m{}\x1b[0m\n  PID:     \x1b[33m{}\x1b[0m\n'
            '  UID:     \x1b[33m{}\x1b[0m\n  Badness: \x1b[33m{}\x1b[0m, oom_score: \x1b[33m{}\x1b[0m, oom_score_adj: '
            '\x1b[33m{}\x1b[0m\n  VmRSS:   \x1b[33m{}\x1b[0m MiB'.format('chromium', 4100, 1000, 650, 650, 300, 1500),
            '\n\x1b[4mImplement corrective action:\x1b[0m\n  Sending \x1b[4m{}\x1b[0m to the victim; {}'.format(
                'SIGTERM', 'OK; response time: 9 ms')),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=4100, comm='chromium', adj=300, rss_kb=1500 * 1024,
             signal='SIGTERM', uid=1000)]),
    ('nohang-2019-03-command',
     nohang(NOHANG_2019_03_MEMORY.format(310, 3.9, 784, 10.0, 0, 0.0, 0, '-'),
            NOHANG_2019_03_VICTIM.format(11, 'Web Content', 'S (sleeping)', 4200, 1000, 700, 700, 100, 3100, 1900, '', 0,
                                         '/usr/lib/firefox/firefox', 'firefox -contentproc', '2h 1min'),
            '\nImplement a corrective action:\n  Run the command: {}\n  Exit status: {}; total response time: {} ms'.format(
                'systemctl --user restart firefox.scope', 0, 30)),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=4200, comm='Web Content', adj=100, rss_kb=1900 * 1024,
             uid=1000, action='command systemctl --user restart firefox.scope',
             trigger='MemAvailable [310 MiB, 3.9 %] <= mem_min_sigterm [784 MiB, 10.0 %]; '
                     'SwapFree [0 MiB, 0.0 %] <= swap_min_sigterm [0 MiB, - %]')]),
    ('nohang-2019-03-send',
     nohang(NOHANG_2019_03_VICTIM.format(11, 'Web Content', 'S (sleeping)', 4200, 1000, 700, 700, 100, 3100, 1900, '', 0,
                                         '/usr/lib/firefox/firefox', 'firefox -contentproc', '2h 1min'),
            '\nImplement a corrective action:\n    Send {} to the victim; {}'.format('SIGKILL', 'total response time: 22 ms')),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=4200, comm='Web Content', adj=100, rss_kb=1900 * 1024,
             uid=1000, signal='SIGKILL')]),
    ('nohang-2019-06',
     nohang(NOHANG_2019_06_VICTIM.format(3, 'Web Content', 'S (sleeping)', 4200, 1000, 700, 700, 100, 3100, 1900, '', 0, '',
                                         '/user.slice/user-1000.slice/session-2.scope', '/usr/lib/firefox/firefox', '2h'),
            'Implement a corrective action:\n  Send {} to the victim; {}'.format('SIGTERM', 'total response time: 22 ms')),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=4200, comm='Web Content', adj=100, rss_kb=1900 * 1024,
             uid=1000, signal='SIGTERM', cgroup='/user.slice/user-1000.slice/session-2.scope')]),
    ('nohang-2019-06-command',
     nohang(NOHANG_2019_06_VICTIM.format(3, 'Web Content', 'S (sleeping)', 4200, 1000, 700, 700, 100, 3100, 1900, '', 0, '',
                                         '/user.slice/user-1000.slice/session-2.scope', '/usr/lib/firefox/firefox', '2h'),
            'Execute the command: {}'.format('systemctl restart web.service'),
            'Exit status: {}; exe duration: {} sec'.format(0, 0.21)),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=4200, comm='Web Content', adj=100, rss_kb=1900 * 1024,
             uid=1000, cgroup='/user.slice/user-1000.slice/session-2.scope', action='command systemctl restart web.service')]),
    ('nohang-2020-send',
     nohang(NOHANG_2020_MEMORY.format(250.0, 3.2, 311.2, 4.0, 0.0, 0.0, 0.0, 0.0),
            'Found 180 tasks with non-zero oom_score (except init and self) in 9ms',
            NOHANG_2020_VICTIM.format(3, 51234, 'Isolated Web Co', 'S (sleeping)', 1000, 1820, 'gnome-session-b', '2h 1min',
                                      867, 867, 167, 3300, 1733, ' (Anon: 1700, File: 30, Shmem: 3)', 0, '', FIREFOX_SCOPE,
                                      '/usr/lib/firefox/firefox', '/home/user'),
            'Implementing a corrective action:\n  Sending {} to the victim'.format('SIGTERM'),
            'OK; total response time: 14ms'),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=51234, comm='Isolated Web Co', adj=167,
             rss_kb=1733 * 1024, signal='SIGTERM', uid=1000, cgroup=FIREFOX_SCOPE,
             trigger='MemAvailable [250.0 MiB, 3.2 %] <= soft_threshold_min_mem [311.2 MiB, 4.0 %]; '
                     'SwapFree [0.0 MiB, 0.0 %] <= soft_threshold_min_swap [0.0 MiB, 0.0 %]')]),
    ('nohang-2020-command',
     nohang(NOHANG_2020_PSI.format(600.0, 7.7, 622.4, 8.0, 85.3, 80.0, 20, 21.4),
            NOHANG_2020_VICTIM.format(3, 51234, 'Isolated Web Co', 'S (sleeping)', 1000, 1820, 'gnome-session-b', '2h 1min',
                                      867, 867, 167, 3300, 1733, '', 0, '', FIREFOX_SCOPE, '/usr/lib/firefox/firefox',
                                      '/home/user'),
            "Regexp '{}' matches with {} '{}'".format('^Isolated', 'name', 'Isolated Web Co'),
            'Implementing a corrective action:\n  Executing the command: {}'.format('kill -STOP 51234'),
            'Total response time: {}ms'.format(16)),
     [expect(time='2024-02-04T02:28:44+0000', killer='nohang', pid=51234, comm='Isolated Web Co', adj=167,
             rss_kb=1733 * 1024, uid=1000, cgroup=FIREFOX_SCOPE, action='command kill -STOP 51234',
             trigger='MemAvailable [600.0 MiB, 7.7 %] <= hard_threshold_min_mem [622.4 MiB, 8.0 %]; '
                     'Current PSI metric value (85.3) >= hard_threshold_max_psi (80.0)')]),
]


ALL_CASES = OOM_CASES + LMK_CASES + LMKD_CASES + EARLYOOM_CASES + OOMD_CASES + NOHANG_CASES


@pytest.mark.parametrize('lines, kills', [case[1:] for case in ALL_CASES], ids=[case[0] for case in ALL_CASES])
def test_format(lines, kills):
    assert found(lines) == kills


def test_the_kernel_logs_scan_misses_a_command_without_a_kill_word():
    """What userspace=False gives up, shown: nohang restarting a service on its victim."""
    lines = dict((case[0], case[1]) for case in ALL_CASES)['nohang-2018-08-command']
    data = ''.join(line + '\n' for line in lines).encode('utf-8')
    assert [kill['action'] for kill in killlog.scan_chunks([data])] == ['command systemctl restart chromium-kiosk']
    assert list(killlog.scan_chunks([data], userspace=False)) == []


def test_case_ids_are_unique():
    ids = [case[0] for case in ALL_CASES]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------------
# Records that say no kill happened, or that a kill was only considered

@pytest.mark.parametrize('lines', [
    # RHEL 6: vm.would_have_oomkilled set, nothing killed
    kernel(10.0, printf('Would have killed process %d (%s). But continuing instead.\n', 2382, 'java')),
    # 5.x and 6.x: the chosen task was already exiting
    kernel(10.0, printf('%s: OOM victim %d (%s) is already exiting. Skip killing the task\n', 'Out of memory', 2382, 'java')),
    kernel(10.0, printf('oom killer %d (%s) has mm pinned by %d (%s)\n', 2383, 'java', 1, 'systemd')),
    # systemd-oomd's dry run
    daemon(OOMD, printf('oomd dry-run: Would have tried to kill %s and all its descendants', '/sys/fs/cgroup' + FIREFOX)),
    # nohang: the victim died first, the signal was refused, the command could not be started
    nohang(NOHANG_2020_VICTIM.format(3, 51300, 'tracker-miner-f', 'R (running)', 1000, 1820, 'gnome-session-b', '5min', 300,
                                     300, 0, 900, 600, '', 0, '', '/user.slice', '/usr/bin/tracker', '/'),
           'Implementing a corrective action:\n  Sending {} to the victim'.format('SIGKILL'),
           'Selected process died before corrective action'),
    nohang('Implementing a corrective action:\n  Sending {} to the victim'.format('SIGTERM'),
           'Cannot send a signal: PermissionError'),
    nohang(NOHANG_2020_VICTIM.format(3, 51300, 'tracker-miner-f', 'R (running)', 1000, 1820, 'gnome-session-b', '5min', 300,
                                     300, 0, 900, 600, '', 0, '', '/user.slice', '/usr/bin/tracker', '/'),
           'Implementing a corrective action:\n  Executing the command: {}'.format('kill -STOP 51300'),
           'Cannot execute the command in the new thread'),
    # nohang running a command with no victim just before it (a low-memory warning, post_kill_exe)
    nohang('Execute the command: {}'.format('notify-send "Low memory"'), 'Exit status: 0; exe duration: 0.1 sec'),
    # earlyoom's -g self-test at start-up: signal 0 to its own process group
    daemon(EARLYOOM, printf('sending %s to process %d uid %d "%s": oom_score %d, oom_score_adj %d, VmRSS %lld MiB, '
                            'cmdline "%s"\n', '0 (no-op signal)', 304, 0, 'earlyoom', 0, -100, 2, 'earlyoom -g'))
    + daemon(EARLYOOM, printf('killing whole process group %d (-g flag is active)\n', 304)),
    # lmkd's "Reclaimed" line alone
    daemon(LOGCAT, printf(LMKD_RECLAIMED, 297100, 51000, 20000, 3000, 61440, 800)),
], ids=['rhel6-would-have-killed', 'oom-victim-exiting', 'oom-mm-pinned', 'oomd-dry-run', 'nohang-victim-died',
        'nohang-signal-refused', 'nohang-command-not-started', 'nohang-command-without-victim', 'earlyoom-group-self-test',
        'lmkd-reclaimed-alone'])
def test_no_kill(lines):
    assert found(lines) == []


def test_a_command_after_an_earlier_action_is_not_that_victims():
    """The victim block before a kill belongs to that kill; a command run after it (post_kill_exe in nohang
    2019) names no victim of its own."""
    lines = nohang(NOHANG_2019_06_VICTIM.format(3, 'Web Content', 'S (sleeping)', 4200, 1000, 700, 700, 100, 3100, 1900, '', 0,
                                                '', '/user.slice', '/usr/lib/firefox/firefox', '2h'),
                   'Implement a corrective action:\n  Send {} to the victim; {}'.format('SIGKILL', 'total response time: 5 ms'),
                   'Execute the command: {}'.format('logger killed'))
    assert [(kill['signal'], kill['action']) for kill in found(lines)] == [('SIGKILL', None)]


def test_lmkd_reclaimed_line_does_not_override_a_reason():
    lines = (daemon(LOGCAT, printf("Kill '%s' (%d), uid %d, oom_adj %d to free %ldkB; reason: %s", 'com.whatsapp', 7500, 10130,
                                   900, 97000, 'min watermark is breached'))
             + daemon(LOGCAT, printf(LMKD_RECLAIMED, 97000, 51000, 20000, 3000, 61440, 800)))
    assert [kill['trigger'] for kill in found(lines)] == ['min watermark is breached']
