# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bench helper for the kill-log parser (plugins/module_utils/killlog.py).

  python bench/killlog_scan.py generate OUT --mb 200   # ordinary kernel lines, 0.1% kill records of every format
  python bench/killlog_scan.py scan FILE...            # kills found per file, and the time taken

Compare with grep over the same file, e.g.
  time grep -cE 'ill|SIG|ictim|badness' OUT
  time python bench/killlog_scan.py scan OUT
  time python bench/killlog_scan.py keywords OUT       # the parser's keyword search alone
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import argparse
import collections
import importlib.util
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHUNK = 1 << 20


def load_killlog():
    path = os.path.join(HERE, os.pardir, 'plugins', 'module_utils', 'killlog.py')
    spec = importlib.util.spec_from_file_location('killlog', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Lines of the kind a busy host's kernel log is made of.
ORDINARY = (
    'usb {a}-{b}: new high-speed USB device number {n} using xhci_hcd',
    'usb {a}-{b}: New USB device found, idVendor=0bda, idProduct=8153, bcdDevice=30.00',
    'EXT4-fs (sda{a}): mounted filesystem with ordered data mode. Opts: (null)',
    'EXT4-fs (dm-{a}): re-mounted. Opts: errors=remount-ro',
    'audit: type=1400 audit({t}.{n}:{m}): apparmor="ALLOWED" operation="open" profile="/usr/sbin/cupsd" '
    'name="/etc/cups/ppd/" pid={p} comm="cupsd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    '[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.{a} DST=192.0.2.10 '
    'LEN=40 TOS=0x00 PREC=0x00 TTL=245 ID={n} PROTO=TCP SPT={p} DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0',
    'e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx',
    'IPv6: ADDRCONF(NETDEV_CHANGE): wlp{a}s0: link becomes ready',
    'wlp{a}s0: authenticate with 00:11:22:33:44:{a:02x}',
    'wlp{a}s0: associated',
    'nvme nvme0: {n}/0/0 default/read/poll queues',
    'ata{a}: SATA link up 6.0 Gbps (SStatus 133 SControl 300)',
    'sd 0:0:0:0: [sda] {n} 512-byte logical blocks: (500 GB/466 GiB)',
    'TCP: request_sock_TCP: Possible SYN flooding on port 80. Sending cookies.  Check SNMP counters.',
    'nf_conntrack: default automatic helper assignment has been turned off for security reasons',
    'perf: interrupt took too long ({n} > {m}), lowering kernel.perf_event_max_sample_rate to {p}',
    'CPU{a}: Core temperature above threshold, cpu clock throttled (total events = {n})',
    'CPU{a}: Package temperature/speed normal',
    'i915 0000:00:02.0: [drm] GuC firmware i915/kbl_guc_70.1.1.bin version 70.1',
    'bridge: filtering via arp/ip/ip6tables is no longer available by default.',
    'docker0: port {a}(veth{n:x}) entered blocking state',
    'docker0: port {a}(veth{n:x}) entered forwarding state',
    'device veth{n:x} entered promiscuous mode',
    'eth0: renamed from veth{m:x}',
    'cgroup: fork rejected by pids controller in /system.slice/cron.service',
    'traps: python3[{p}] general protection fault ip:7f{n:x} sp:7ffd{m:x} error:0 in libc.so.6',
    'NFS: state manager: check lease failed on NFSv4 server nas with error 13',
    'nfs: server nas OK',
    'blk_update_request: I/O error, dev sdb, sector {n} op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0',
    'Buffer I/O error on dev sdb1, logical block {n}, async page read',
    'r8169 0000:02:00.0 enp2s0: Link is Down',
    'Bluetooth: hci0: Bootloader revision 0.0 build 0 week 0 2016',
    'kauditd_printk_skb: {a} callbacks suppressed',
    'hrtimer: interrupt took {n} ns',
    'kvm: {p}: cpu{a} disabled perfctr wrmsr: 0xc1 data 0xabcdef',
)
# Lines that hold a keyword of the parser without being kill records: about 1% of a real kernel
# log (this machine's dmesg: 3 of 388 lines).
NEAR_MISSES = (
    'ACPI: \\_SB_.PCI0.LPCB.EC0_: Uninitialized by platform firmware, will be initialized',
    'nfs: server nas not responding, still trying',
    'systemd-journald[{p}]: Data hash table of /var/log/journal/system.journal has a fill level at 75.0',
    'Spectre V2 : Spectre v2 / SpectreRSB: Filling RSB on context switch and VMEXIT',
    'oom_control is deprecated and will be removed. Please report your usecase to linux-mm@kvack.org.',
    'audit: type=1400 audit({t}.{n}:{m}): apparmor="DENIED" operation="signal" profile="snap.x" pid={p} '
    'comm="x" requested_mask="receive" denied_mask="receive" signal=kill peer="unconfined"',
)

HOST = 'web1'


def _stamp(clock, style):
    uptime = '[%5d.%06d]' % (int(clock), int(clock * 1e6) % 1000000)
    wall = time.localtime(1700000000 + clock)
    if style == 0:
        return uptime + ' '
    if style == 1:
        return time.strftime('%b %e %H:%M:%S', wall) + ' %s kernel: %s ' % (HOST, uptime)
    return time.strftime('%Y-%m-%dT%H:%M:%S', wall) + '.%06d+00:00 %s kernel: ' % (int(clock * 1e6) % 1000000, HOST)


def _daemon(clock, style, program):
    wall = time.localtime(1700000000 + clock)
    if style == 2:
        return time.strftime('%Y-%m-%dT%H:%M:%S', wall) + '+00:00 %s %s[%d]: ' % (HOST, program, 700)
    return time.strftime('%b %e %H:%M:%S', wall) + ' %s %s[%d]: ' % (HOST, program, 700)


def kill_records(rng):
    """(kills, [line bodies with a marker for the prefix]) for every record format in turn."""
    pid = rng.randint(300, 99999)
    comm = rng.choice(('java', 'Web Content', '(sd-pam)', 'kworker/u8:1', 'mysqld', 'chrome'))
    return [
        (1, [('k', 'send sigkill to %d (%s), adj 12, size %d' % (pid, comm, rng.randint(100, 90000)))]),
        (1, [('k', 'select %d (%s), adj 15, size 2000, to kill' % (pid, comm)),
             ('k', 'lowmemorykiller: send sigkill to %d (%s), adj 15, size 2000' % (pid, comm))]),
        (1, [('k', "lowmemorykiller: select '%s' (%d), adj 900, size 4000, to kill" % (comm, pid)),
             ('k', "lowmemorykiller: Killing '%s' (%d), adj 900," % (comm, pid)),
             ('k', '   to free 16000kB on behalf of \'kswapd0\' (45) because'),
             ('k', '   cache 60000kB is below limit 65536kB for oom_score_adj 529'),
             ('k', '   Free memory is 2000kB above reserved')]),
        (1, [('k', 'mysqld invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0'),
             ('k', 'Out of memory: Kill process %d (%s) score 901 or sacrifice child' % (pid, comm)),
             ('k', 'Killed process %d (%s) total-vm:2000000kB, anon-rss:1500000kB, file-rss:1200kB, '
                   'shmem-rss:0kB' % (pid, comm)),
             ('k', 'oom_reaper: reaped process %d (%s), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB'
              % (pid, comm))]),
        (1, [('k', 'oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,'
                   'oom_memcg=/system.slice/app.service,task_memcg=/system.slice/app.service,task=%s,pid=%d,uid=0'
              % (comm, pid)),
             ('k', 'Memory cgroup out of memory: Killed process %d (%s) total-vm:500000kB, anon-rss:400000kB, '
                   'file-rss:100kB, shmem-rss:0kB, UID:0 pgtables:900kB oom_score_adj:0' % (pid, comm))]),
        (1, [('earlyoom', 'sending SIGTERM to process %d uid 1000 "%s": oom_score 800, oom_score_adj 0, '
                          'VmRSS 3000 MiB, cmdline "/usr/bin/%s"' % (pid, comm, comm))]),
        (1, [('systemd-oomd', 'Killed /user.slice/user-1000.slice/user@1000.service/app.slice/app-%d.scope '
                              'due to memory pressure for /user.slice/user-1000.slice/user@1000.service being '
                              '71.00%% > 50.00%% for > 20s with reclaim activity' % pid)]),
        (1, [('lmkd', "Kill '%s' (%d), uid 10080, oom_score_adj 905 to free 80000kB rss, 1000kB swap; "
                      "reason: low watermark is breached" % (comm, pid))]),
        (1, [('nohang', 'Victim status (found in 3ms):'),
             ('nohang', '  PID:       %d, name: %s, state: S (sleeping), EUID: 1000, SID: 900 (bash), '
                        'lifetime: 1h' % (pid, comm)),
             ('nohang', '  badness:   900, oom_score:  900, oom_score_adj:  0'),
             ('nohang', '  Vm, MiB:   Size: 4000, RSS: 3000, Swap: 0'),
             ('nohang', 'Implementing a corrective action:'),
             ('nohang', '  Sending SIGTERM to the victim'),
             ('nohang', 'OK; total response time: 9ms')]),
        # RHEL 6's kill line, with the uid before the name
        (1, [('k', 'Killed process %d, UID 0, (%s) total-vm:2000000kB, anon-rss:1500000kB, file-rss:1200kB'
              % (pid, comm))]),
        # earlyoom 1.9 with the low-memory line that triggered it
        (1, [('earlyoom', 'low memory! at or below SIGTERM limits: mem  9.80%, swap 10.00%'),
             ('earlyoom', 'sending SIGTERM to process %d uid 1000 "%s": oom_score 800, oom_score_adj 0, '
                          'VmRSS 3000 MiB, cmdline "/usr/bin/%s"' % (pid, comm, comm))]),
        # nohang running a command on its victim instead of sending a signal
        (1, [('nohang', 'Memory status that requires corrective actions:'),
             ('nohang', '  MemAvailable [250.0 MiB, 3.2 %] <= soft_threshold_min_mem [311.2 MiB, 4.0 %]'),
             ('nohang', 'Victim status (found in 3ms):'),
             ('nohang', '  PID:       %d, name: %s, state: S (sleeping), EUID: 1000, SID: 900 (bash), '
                        'lifetime: 1h' % (pid, comm)),
             ('nohang', '  Vm, MiB:   Size: 4000, RSS: 3000, Swap: 0'),
             ('nohang', 'Implementing a corrective action:'),
             ('nohang', '  Executing the command: systemctl restart app.service'),
             ('nohang', 'Total response time: 16ms')]),
    ]


def generate(path, megabytes, seed=1):
    import gzip
    import random
    rng = random.Random(seed)
    target = int(megabytes * 1024 * 1024)
    written = lines = kills = 0
    clock = 10.0
    record = 0
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wt') as out:
        buffer = []
        while written < target:
            clock += rng.random() / 10
            style = lines // 5000 % 3
            if rng.random() < 0.001:
                records = kill_records(rng)
                count, parts = records[record % len(records)]
                record += 1
                kills += count
                for program, body in parts:
                    prefix = _stamp(clock, style) if program == 'k' else _daemon(clock, style, program)
                    buffer.append(prefix + body + '\n')
            else:
                templates = NEAR_MISSES if rng.random() < 0.01 else ORDINARY
                template = templates[rng.randrange(len(templates))]
                buffer.append(_stamp(clock, style) + template.format(
                    a=rng.randint(0, 9), b=rng.randint(1, 9), n=rng.randint(1, 10 ** 6),
                    m=rng.randint(1, 10 ** 6), p=rng.randint(100, 99999), t=int(clock)) + '\n')
            lines += 1
            if len(buffer) >= 10000:
                text = ''.join(buffer)
                written += len(text)
                out.write(text)
                buffer = []
        text = ''.join(buffer)
        written += len(text)
        out.write(text)
    print('%s: %d lines, %.1f MB, %d kill records written' % (path, lines, written / 1e6, kills))


def read_chunks(path):
    if path.endswith('.gz'):
        import gzip
        opener = gzip.open
    else:
        opener = open
    with opener(path, 'rb') as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return
            yield chunk


def scan(paths, show, kernel_log=False):
    killlog = load_killlog()
    total = 0
    for path in paths:
        started = time.time()
        by_killer = collections.Counter()
        for kill in killlog.scan_chunks(read_chunks(path), source=path, userspace=not kernel_log):
            by_killer[kill['killer']] += 1
            if show:
                print(' '.join('%s=%s' % (key, kill[key]) for key in killlog.KILL_FIELDS if key != 'lines'))
        count = sum(by_killer.values())
        total += count
        killers = ', '.join('%s %d' % item for item in sorted(by_killer.items()))
        print('%s: %d kills in %.2f s (%s)' % (path, count, time.time() - started, killers))
    if len(paths) > 1:
        print('total: %d kills' % total)


def keywords(paths):
    """The parser's keyword search alone: the same passes over each chunk as scan_chunks makes
    (killlog._KEYWORD_SCANS, one re search per keyword), counting matches, with no per-line work.
    A keyword cut by a chunk boundary is not counted: the counts are close, the time is the point."""
    killlog = load_killlog()
    for path in paths:
        started = time.time()
        patterns = [pattern for pattern, _before in killlog._KEYWORD_SCANS]
        counts = [0] * len(patterns)
        for chunk in read_chunks(path):
            for index, pattern in enumerate(patterns):
                counts[index] += sum(1 for _match in pattern.finditer(chunk))
        found = ', '.join('%s %d' % (pattern.pattern.decode('ascii'), count) for pattern, count in zip(patterns, counts))
        print('%s: %s in %.2f s' % (path, found, time.time() - started))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command')
    make = commands.add_parser('generate', help='write a synthetic kernel log with 0.1%% kill records')
    make.add_argument('out')
    make.add_argument('--mb', type=float, default=200)
    make.add_argument('--seed', type=int, default=1)
    read = commands.add_parser('scan', help='count the kills in log files (plain or .gz)')
    read.add_argument('files', nargs='+')
    read.add_argument('--show', action='store_true', help='print every kill found')
    read.add_argument('--kernel-log', action='store_true',
                      help="scan as lowmemorykiller_info scans kern.log and dmesg: without the search that only "
                           "nohang's command actions need (killlog.scan_chunks userspace=False)")
    count = commands.add_parser('keywords', help="count the parser's keywords only (its search, without parsing)")
    count.add_argument('files', nargs='+')
    args = parser.parse_args(argv)
    if args.command == 'generate':
        generate(args.out, args.mb, args.seed)
    elif args.command == 'scan':
        scan(args.files, args.show, args.kernel_log)
    elif args.command == 'keywords':
        keywords(args.files)
    else:
        parser.print_help()
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
