# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logs of a host with big logs, for measurement 6 (bench/measure_bighost.py).

  python bench/bighost.py build DIR --mb 1024 [--journal-mb 1024] [--seed 1]

Writes into DIR:
- kern.log.3.gz, kern.log.2.gz, kern.log.1, kern.log: --mb MiB of kernel log text in all (a quarter
  each, before compression), written by `bench/killlog_scan.py generate` (ordinary kernel lines,
  0.1 % kill records of every format), one after the other in time, the newest ending about a day
  before the build; each file's mtime is its last line's time (the module dates syslog lines
  without a year by it);
- journal/*.journal: a systemd journal of about --journal-mb MiB, written by
  systemd-journal-remote from export format: the same kind of lines as kernel-transport entries
  (_TRANSPORT=kernel, the host's current boot ID, so `journalctl -k` shows them all) and the
  daemon lines among them (earlyoom, systemd-oomd, nohang, lmkd) under their own
  SYSLOG_IDENTIFIER, plus an earlyoom status line every 500 entries;
- meta.json: what was built (sizes, lines, kill records, the time span, boot ID, how long it took).

Every date is within the 8 days before the build, so a window of 30 days still reads everything;
measure_bighost.py rebuilds a cache older than 20 days, or made under another boot (-k shows the
current boot only).

killlog_scan.py dates its lines from a fixed epoch (November 2023); it is used as it is, with its
clock shifted: its `time` module is replaced, for the call, by one whose localtime() adds an offset.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import argparse
import calendar
import contextlib
import gzip
import io
import itertools
import json
import os
import re
import subprocess
import sys
import time

# bench/killlog_scan.py, next to this file (the script's directory is on sys.path): not changed here,
# only its clock shifted.
import killlog_scan

JOURNAL_REMOTE = '/lib/systemd/systemd-journal-remote'
# killlog_scan.py's lines are dated localtime(EPOCH + clock), clock from 10 s on.
EPOCH = 1700000000
HOST = killlog_scan.HOST
# Oldest first: (name, share of the text, compressed).
ROTATIONS = (('kern.log.3.gz', 0.25, True), ('kern.log.2.gz', 0.25, True), ('kern.log.1', 0.25, False),
             ('kern.log', 0.25, False))
# Newest line this long before the build; all of it within 8 days of the build.
END_BEFORE = 86400
EARLYOOM_EVERY = 500

_UPTIME = re.compile(r'\[\s*(\d+)\.(\d{6})\] ')
_ISO = re.compile(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{6}))?\+00:00 ')
_SYSLOG = re.compile(r'[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ')
_PROGRAM = re.compile(r'(\S+) ([\w-]+)\[(\d+)\]: ')


class ShiftedTime(object):
    """killlog_scan's `time`, with localtime() moved by offset seconds."""

    def __init__(self, offset):
        self.offset = offset

    def localtime(self, seconds):
        # UTC whatever the host's zone: the lines say +00:00.
        return time.gmtime(seconds + self.offset)

    def __getattr__(self, name):
        return getattr(time, name)


def generate(path, megabytes, seed, start):
    """killlog_scan.generate(path) with its first line at `start` (epoch seconds). Returns its summary line."""
    real = killlog_scan.time
    killlog_scan.time = ShiftedTime(start - 10 - EPOCH)
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            killlog_scan.generate(path, megabytes, seed)
    finally:
        killlog_scan.time = real
    return out.getvalue().strip()


def journal_entries(lines, start, boot_id, machine_id, out):
    """Export-format entries for the lines of a killlog_scan log whose first line is at `start`.

    Kernel lines become _TRANSPORT=kernel entries (MESSAGE without the prefix and [uptime] stamp),
    daemon lines (earlyoom[700]: ...) entries of that identifier. Returns (entries, last realtime).
    """
    base = start - 10  # realtime of clock 0
    realtime = start
    iso_cache = {}
    entries = 0
    head_kernel = ('_BOOT_ID=%s\n_MACHINE_ID=%s\n_HOSTNAME=%s\n_TRANSPORT=kernel\nSYSLOG_FACILITY=0\n'
                   'SYSLOG_IDENTIFIER=kernel\nPRIORITY=6\n' % (boot_id, machine_id, HOST))
    head_daemon = ('_BOOT_ID=%s\n_MACHINE_ID=%s\n_HOSTNAME=%s\n_TRANSPORT=stdout\nSYSLOG_FACILITY=3\nPRIORITY=6\n'
                   % (boot_id, machine_id, HOST))
    buffer = []
    for line in lines:
        line = line.rstrip('\n')
        rest = line
        program = 'kernel'
        pid = None
        match = _ISO.match(line)
        if match:
            stamp = iso_cache.get(match.group(1))
            if stamp is None:
                stamp = iso_cache[match.group(1)] = calendar.timegm(time.strptime(match.group(1), '%Y-%m-%dT%H:%M:%S'))
                if len(iso_cache) > 4096:
                    iso_cache.clear()
            if match.group(2):
                realtime = stamp + int(match.group(2)) / 1e6
            rest = line[match.end():]
        else:
            match = _SYSLOG.match(line)
            if match:
                rest = line[match.end():]
        match = _PROGRAM.match(rest) if rest is not line else None
        if match:
            program, pid = match.group(2), match.group(3)
            rest = rest[match.end():]
        match = _UPTIME.match(rest)
        if match:
            realtime = base + int(match.group(1)) + int(match.group(2)) / 1e6
            rest = rest[match.end():]
        usec = int(realtime * 1e6)
        times = '__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n' % (usec, usec - int(base * 1e6))
        if program == 'kernel':
            buffer.append('%s%sMESSAGE=%s\n\n' % (times, head_kernel, rest))
        else:
            buffer.append('%s%sSYSLOG_IDENTIFIER=%s\n_COMM=%s\n_PID=%s\n_SYSTEMD_UNIT=%s.service\nMESSAGE=%s\n\n'
                          % (times, head_daemon, program, program[:15], pid, program, rest))
        entries += 1
        if entries % EARLYOOM_EVERY == 0:
            buffer.append('%s%sSYSLOG_IDENTIFIER=earlyoom\n_COMM=earlyoom\n_PID=700\n_SYSTEMD_UNIT=earlyoom.service\n'
                          'MESSAGE=mem avail: %5d of 7952 MiB (%5.2f%%), swap free: 2047 of 2047 MiB (100.00%%)\n\n'
                          % (times, head_daemon, 900 + entries % 4000, (900 + entries % 4000) / 79.52))
            entries += 1
        if len(buffer) >= 5000:
            out.write(''.join(buffer))
            buffer = []
    out.write(''.join(buffer))
    return entries, realtime


def du_bytes(path):
    return int(subprocess.run(['du', '-s', '--block-size=1', path], stdout=subprocess.PIPE, check=True,
                              universal_newlines=True).stdout.split()[0])


def write_journal(directory, sources, journal_mb, boot_id, machine_id):
    """Feed sources ([(path, lines, start)], oldest first) to systemd-journal-remote, newest first, until the
    journal holds about journal_mb MiB (du): a journal smaller than the text holds its newest part, as a
    host's journal with a size limit does. Returns (entries, du bytes)."""
    os.makedirs(directory)
    target = journal_mb * 1048576
    entries, per_entry = 0, 380.0  # bytes of journal file per entry, measured as pieces are written
    # One systemd-journal-remote run per log file, each into its own file (journalctl reads them all,
    # as it reads journald's archived files).
    for index, (path, lines, start) in enumerate(reversed(sources)):
        left = target - du_bytes(directory)
        if left < per_entry * 1000:
            break
        skip = max(0, lines - int(left / per_entry))
        output = os.path.join(directory, 'system@bench-%02d.journal' % index)
        remote = subprocess.Popen([JOURNAL_REMOTE, '--output=' + output, '--split-mode=none', '-'],
                                  stdin=subprocess.PIPE, universal_newlines=True)
        opener = gzip.open if path.endswith('.gz') else open
        with opener(path, 'rt') as log:
            # The stamps of the lines skipped still count: the first line kept is dated by its own stamp,
            # or the last one seen.
            count, _last = journal_entries(itertools.islice(log, skip, None), start, boot_id, machine_id,
                                           remote.stdin)
        remote.stdin.close()
        if remote.wait() != 0:
            raise RuntimeError('systemd-journal-remote failed (rc=%d)' % remote.returncode)
        entries += count
        per_entry = du_bytes(directory) / float(entries)
    return entries, du_bytes(directory)


def build(directory, megabytes, journal_mb, seed, boot_id=None, machine_id=None, now=None):
    """Write the logs and the journal into directory (which must not exist); return the metadata."""
    started = time.time()
    now = now or started
    with open('/proc/sys/kernel/random/boot_id') as boot:
        boot_id = boot_id or boot.read().strip().replace('-', '')
    machine_id = machine_id or ('%032x' % (seed * 0x1f1f1f1f + 0x6c6f776d656d))[-32:]
    os.makedirs(directory)
    # Each file's span is about 0.05 s of log time per line, about 105 bytes a line.
    spans = [megabytes * share * 1048576 / 105.0 * 0.05 for _name, share, _gz in ROTATIONS]
    start = now - END_BEFORE - sum(spans)
    files, sources = [], []
    for (name, share, compressed), span in zip(ROTATIONS, spans):
        plain = os.path.join(directory, name[:-3] if compressed else name)
        summary = generate(plain, megabytes * share, seed + len(files), start)
        match = re.search(r'(\d+) lines, ([\d.]+) MB, (\d+) kill records', summary)
        lines, kills = int(match.group(1)), int(match.group(3))
        with open(plain, 'rb') as log:
            log.seek(-4096, os.SEEK_END)
            last = log.read().splitlines()[-1].decode()
        end = _last_time(last, start)
        if compressed:
            subprocess.run(['gzip', '-6', '-n', plain], check=True)
        path = plain + ('.gz' if compressed else '')
        sources.append((path, lines, start))
        os.utime(path, (end, end))
        files.append(dict(name=name, lines=lines, kill_records=kills, text_bytes=int(float(match.group(2)) * 1e6),
                          bytes=os.path.getsize(path), first=start, last=end))
        start = end + 60
    text_done = time.time()
    entries, journal_bytes = write_journal(os.path.join(directory, 'journal'), sources, journal_mb, boot_id, machine_id)
    meta = dict(megabytes=megabytes, journal_mb=journal_mb, seed=seed, boot_id=boot_id, machine_id=machine_id,
                built=now, files=files, journal_entries=entries, journal_bytes=journal_bytes,
                journal_files=sorted(name for name in os.listdir(os.path.join(directory, 'journal'))
                                     if name.endswith('.journal')),
                seconds=dict(text=round(text_done - started, 1), journal=round(time.time() - text_done, 1)))
    with open(os.path.join(directory, 'meta.json'), 'w') as out:
        json.dump(meta, out, indent=2, sort_keys=True)
    return meta


def _last_time(line, start):
    match = _ISO.match(line)
    if match:
        return calendar.timegm(time.strptime(match.group(1), '%Y-%m-%dT%H:%M:%S'))
    match = _UPTIME.search(line)
    return start - 10 + int(match.group(1)) if match else start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command')
    make = commands.add_parser('build', help='write the logs and the journal into a new directory')
    make.add_argument('directory')
    make.add_argument('--mb', type=float, default=1024, help='MiB of kernel log text over kern.log and its rotations')
    make.add_argument('--journal-mb', type=float, help='MiB of journal (du), default --mb')
    make.add_argument('--seed', type=int, default=1)
    args = parser.parse_args(argv)
    if args.command != 'build':
        parser.print_help()
        return 2
    meta = build(args.directory, args.mb, args.journal_mb or args.mb, args.seed)
    print(json.dumps(meta, indent=2, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
