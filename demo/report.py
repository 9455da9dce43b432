# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print the demo's BEFORE or AFTER from lowmem.hardening.lowmemorykiller_info's result.

    ansible droplet -m lowmem.hardening.lowmemorykiller_info \
        | python3 report.py before|after [--vm [--job-pid PID]] [--check]

Reads the ad hoc output (``HOST | SUCCESS => {json}``) on stdin. The droplet is the container of
`make demo-quick` (fake sysfs, emulated MemTotal, the story's kill in a canned kern.log), or with --vm the
QEMU VM of `make demo` (a real kernel: the kill is the one of site-build, pid PID, that the demo saw).
With --check it also verifies that the host is what the demo says it is (defaults and no persistence
before; disabled and persisted after; the story's kill and the threshold that allowed it; in the VM no
swap before and swap on after) and exits 1 naming each expectation that failed: `make demo-check` and
`make demo-quick-check` use it.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import argparse
import json
import sys
import textwrap

KIB = 1024
MIB = 1024 * KIB
WIDTH = 110
DEFAULTS = {'adj': [0, 1, 6, 12], 'minfree': [1536, 2048, 4096, 16384], 'cost': 32, 'debug_level': 1}
# The kill record of the story, as demo/droplet/kern.log holds it; in the VM, the pid is site-build's.
STORY_KILL = {'killer': 'lowmemorykiller', 'pid': 17651, 'comm': 'site-build', 'adj': 0}
STORY_LOG = '/var/log/kern.log'


def size(nbytes):
    unit, name = (MIB, 'MiB') if nbytes >= MIB else (KIB, 'KiB')
    text = '%.1f' % (nbytes / float(unit))
    return '%s %s' % (text[:-2] if text.endswith('.0') else text, name)


def percent(nbytes, total):
    if not total:
        return '?% of RAM'
    value = 100.0 * nbytes / total
    return ('<0.1' if 0 < value < 0.05 else '%.1f' % value) + '% of RAM'


def parse_adhoc(text):
    """The result dict from the ad hoc output, or exit naming what went wrong."""
    head, sep, body = text.partition(' => ')
    if not sep or '| SUCCESS' not in head:
        sys.exit('lowmemorykiller_info did not succeed:\n' + text)
    return json.loads(body)


# Where lowmemorykiller_info found a kill's threshold (kill_thresholds[].table).
TABLES = {
    'record': 'the limit its record prints',
    'original': 'the values from before lowmem.hardening changed them',
    'current': "today's values",
}


def story_kills(facts, story_kill):
    """[(kill, its threshold)] for the story's kill."""
    return [(kill, threshold) for kill, threshold in zip(facts['kills'], facts['kill_thresholds'])
            if all(kill[key] == value for key, value in story_kill.items())]


def show(facts, when, vm=False):
    memory = facts['memory']
    total = memory['mem_total_bytes']
    table = facts['thresholds']
    lines = ['%s  (lowmem.hardening.lowmemorykiller_info, read-only)' % when.upper()]
    add = lines.append
    add('  RAM             %s (MemTotal as the modules read it)' % (size(total) if total else 'unknown'))
    if not facts['present']:
        add('  lowmemorykiller not present at %s' % facts['path'])
    elif facts['disabled']:
        add('  lowmemorykiller disabled, no process can be selected: adj %s, minfree %s'
            % (','.join(str(a) for a in facts['params'].get('adj', [])),
               ', '.join('%d page%s (%s)' % (row['minfree_pages'], '' if row['minfree_pages'] == 1 else 's',
                                             size(row['minfree_bytes'])) for row in table) or 'none'))
    else:
        add('  lowmemorykiller active: below a threshold of free memory and file cache, it kills processes with')
        add('                  oom_score_adj >= the threshold\'s adj')
        for row in table:
            add('                  %8s  %6d pages  %15s  adj >= %d'
                % (size(row['minfree_bytes']), row['minfree_pages'], percent(row['minfree_bytes'], total), row['adj']))
    mechanisms = facts['persist']['mechanisms']
    if not mechanisms:
        add('  persistence     none: values set now would be lost at the next boot')
    for mechanism in mechanisms:
        add('  persistence     %s: %s (%s, %s the kernel)'
            % (mechanism['method'], mechanism['file'],
               'written by lowmem.hardening' if mechanism['managed'] else 'not written by lowmem.hardening',
               'matches' if mechanism['matches'] else 'DIFFERS from'))
    swaps = ', '.join('%s %s' % (s['filename'], size(s['size_bytes'])) for s in memory['swaps'])
    # Swap is kernel-wide: in a container, /proc/swaps lists the host's.
    add('  swap active     %s' % ('%s%s' % (swaps, '' if vm else " (the host kernel's)") if swaps else 'none'))
    logs = ', '.join(log['source'] if len(facts['logs']) == 1 else '%s (%d)' % (log['source'], log['kills'])
                     for log in facts['logs'])
    add('  kills found     %d, in %s' % (len(facts['kills']), logs or 'no log'))
    for kill, threshold in zip(facts['kills'], facts['kill_thresholds']):
        add('                  %s %s killed %s (pid %s), adj %s, %s'
            % (kill['time'], kill['killer'], kill['comm'], kill['pid'], kill['adj'],
               size(kill['rss_kb'] * KIB) if kill['rss_kb'] is not None else 'size unknown'))
        if threshold is None:
            continue
        if threshold['minfree_pages'] is None:
            why = 'no threshold in %s selects adj %d' % (TABLES[threshold['table']], kill['adj'])
        else:
            why = ('possible below %s (%d pages, %s), the threshold for adj >= %d in %s'
                   % (size(threshold['minfree_bytes']), threshold['minfree_pages'],
                      percent(threshold['minfree_bytes'], total), threshold['adj'], TABLES[threshold['table']]))
        if facts['disabled']:
            why += '; lowmemorykiller is disabled now: it can no longer kill it'
        lines.extend(textwrap.wrap(why, width=WIDTH, initial_indent=' ' * 18, subsequent_indent=' ' * 18))
    warnings = [f for f in facts['findings'] if f['severity'] == 'warning']
    if not warnings:
        add('  warnings        none')
    for finding in warnings:
        lines.extend(textwrap.wrap('%s: %s' % (finding['code'], finding['message']), width=WIDTH,
                                   initial_indent='  warning         ', subsequent_indent=' ' * 18))
    return lines


def failed_expectations(facts, when, vm=False, job_pid=None):
    """What is not as the demo tells it: [description]."""
    failed = []

    def expect(condition, description):
        if not condition:
            failed.append(description)

    memory = facts['memory']
    if vm:
        expect(facts['present'], "the test driver's parameters exist")
        expect(0 < (memory['mem_total_bytes'] or 0) <= 512 * MIB, "MemTotal reads the VM's RAM (512 MiB at most)")
    else:
        expect(facts['present'], 'the fake lowmemorykiller sysfs is mounted')
        expect(memory['mem_total_bytes'] == 512 * MIB, 'MemTotal reads 512 MiB (the emulated /proc/meminfo)')
    # The VM's BEFORE comes before the job runs: a fresh VM has no kill to show yet.
    if not vm or when == 'after':
        story_kill = dict(STORY_KILL, pid=job_pid) if vm else STORY_KILL
        kills = story_kills(facts, story_kill)
        if vm:
            expect(len(kills) == 1, 'the kill of site-build (pid %s) is found once' % job_pid)
        else:
            expect(len(kills) == 1 and kills[0][0]['source'] == STORY_LOG, "the story's kill is found once in kern.log")
        threshold = kills[0][1] if len(kills) == 1 else None
        # Before, the driver's defaults; after, the same values as lowmem.hardening saved them before the change.
        table = 'current' if when == 'before' else 'original'
        expect(threshold is not None
               and (threshold['table'], threshold['minfree_pages'], threshold['adj']) == (table, 1536, 0),
               '%s was possible below 1536 pages, the threshold for adj >= 0 in %s'
               % ('the kill of site-build' if vm else "the story's kill", TABLES[table]))
    if vm:
        if when == 'before':
            expect(not facts['kills'], 'no kill yet')
            expect(not memory['swaps'], 'no swap')
        else:
            expect([s['filename'] for s in memory['swaps']] == ['/swapfile']
                   and (memory['swap_total_bytes'] or 0) > 0, 'swap on, from /swapfile only')
    if when == 'before':
        expect(facts['params'] == DEFAULTS, "the driver's defaults: %r" % DEFAULTS)
        expect(not facts['persist']['mechanisms'], 'nothing persists the values')
    else:
        expect(facts['params'].get('adj') == [9999] and facts['params'].get('minfree') == [1], 'adj 9999, minfree 1')
        expect(facts['disabled'] is True, 'the driver is disabled')
        expect([(m['method'], m['managed'], m['matches']) for m in facts['persist']['mechanisms']]
               == [('tmpfiles', True, True)], 'one tmpfiles file, written by lowmem.hardening, matching the kernel')
    return failed


def main(argv):
    parser = argparse.ArgumentParser(prog='report.py', description='the demo\'s BEFORE or AFTER, from the ad hoc '
                                     'output of lowmem.hardening.lowmemorykiller_info on stdin')
    parser.add_argument('when', choices=['before', 'after'])
    parser.add_argument('--vm', action='store_true',
                        help="the droplet is make demo's VM, not make demo-quick's container")
    parser.add_argument('--job-pid', type=int, help='with --vm after: the pid of the site-build that was killed')
    parser.add_argument('--check', action='store_true', help='verify the host is what the demo says; exit 1 if not')
    args = parser.parse_args(argv[1:])
    if args.check and args.vm and args.when == 'after' and args.job_pid is None:
        parser.error('--check --vm after needs --job-pid')
    facts = parse_adhoc(sys.stdin.read())['lowmemorykiller']
    print('\n'.join(show(facts, args.when, args.vm)))
    if args.check:
        failed = failed_expectations(facts, args.when, args.vm, args.job_pid)
        for description in failed:
            print('demo-check %s: NOT as expected: %s' % (args.when, description), file=sys.stderr)
        return 1 if failed else 0
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
