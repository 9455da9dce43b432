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

The defaults, sizes and shares of RAM are the collection's own (lmk_findings, lowmemorykiller): the
collection is imported from ANSIBLE_COLLECTIONS_PATH, where demo/common.sh links this checkout.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import argparse
import json
import os
import sys
import textwrap


def import_collection():
    """lmk_findings and lowmemorykiller of lowmem.hardening, found where Ansible finds the collection:
    on ANSIBLE_COLLECTIONS_PATH (demo/common.sh links this checkout there) or Ansible's default path."""
    setting = os.environ.get('ANSIBLE_COLLECTIONS_PATH', '~/.ansible/collections:/usr/share/ansible/collections')
    for path in reversed([os.path.expanduser(entry) for entry in setting.split(os.pathsep) if entry]):
        sys.path.insert(0, os.path.dirname(path) if os.path.basename(path) == 'ansible_collections' else path)
    try:
        from ansible_collections.lowmem.hardening.plugins.module_utils import lmk_findings, lowmemorykiller
    except ImportError as error:
        sys.exit('report.py: lowmem.hardening not found on ANSIBLE_COLLECTIONS_PATH (demo/common.sh sets it): %s' % error)
    return lmk_findings, lowmemorykiller


findings, lmk = import_collection()
WIDTH = 110
# The driver's defaults as the collection knows them; cost and debug_level, which it never needs, as the
# driver starts.
DEFAULTS = {'adj': findings.DEFAULT_ADJ[0], 'minfree': findings.DEFAULT_MINFREE, 'cost': 32, 'debug_level': 1}
# The kill record of the story, as demo/droplet/kern.log holds it; in the VM, the pid is site-build's.
STORY_KILL = {'killer': 'lowmemorykiller', 'pid': 17651, 'comm': 'site-build', 'adj': 0}
STORY_LOG = '/var/log/kern.log'


def share(row):
    """A threshold's (or a kill_thresholds entry's) share of RAM."""
    return '?% of RAM' if row['minfree_percent'] is None else findings.ram_share(row['minfree_percent'])


def parse_adhoc(text):
    """The result dict from the ad hoc output, or exit naming what went wrong."""
    head, sep, body = text.partition(' => ')
    if not sep or '| SUCCESS' not in head:
        sys.exit('lowmemorykiller_info did not succeed:\n' + text)
    return json.loads(body)


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
    add('  RAM             %s (MemTotal as the modules read it)' % (findings.format_size(total) if total else 'unknown'))
    if not facts['present']:
        add('  lowmemorykiller not present at %s' % facts['path'])
    elif facts['disabled']:
        add('  lowmemorykiller disabled, no process can be selected: adj %s, minfree %s'
            % (lmk.format_value(facts['params'].get('adj', [])),
               ', '.join('%d page%s (%s)' % (row['minfree_pages'], '' if row['minfree_pages'] == 1 else 's',
                                             findings.format_size(row['minfree_bytes'])) for row in table) or 'none'))
    else:
        add('  lowmemorykiller active: below a threshold of free memory and file cache, it kills processes with')
        add('                  oom_score_adj >= the threshold\'s adj')
        for row in table:
            add('                  %8s  %6d pages  %15s  adj >= %d'
                % (findings.format_size(row['minfree_bytes']), row['minfree_pages'], share(row), row['adj']))
    mechanisms = facts['persist']['mechanisms']
    if not mechanisms:
        add('  persistence     none: values set now would be lost at the next boot')
    for mechanism in mechanisms:
        add('  persistence     %s: %s (%s, %s the kernel)'
            % (mechanism['method'], mechanism['file'],
               'written by lowmem.hardening' if mechanism['managed'] else 'not written by lowmem.hardening',
               'matches' if mechanism['matches'] else 'DIFFERS from'))
    swaps = ', '.join('%s %s' % (s['filename'], findings.format_size(s['size_bytes'])) for s in memory['swaps'])
    # Swap is kernel-wide: in a container, /proc/swaps lists the host's.
    add('  swap active     %s' % ('%s%s' % (swaps, '' if vm else " (the host kernel's)") if swaps else 'none'))
    logs = ', '.join(log['source'] if len(facts['logs']) == 1 else '%s (%d)' % (log['source'], log['kills'])
                     for log in facts['logs'])
    add('  kills found     %d, in %s' % (len(facts['kills']), logs or 'no log'))
    for kill, threshold in zip(facts['kills'], facts['kill_thresholds']):
        add('                  %s %s killed %s (pid %s), adj %s, %s'
            % (kill['time'], kill['killer'], kill['comm'], kill['pid'], kill['adj'],
               findings.format_size(kill['rss_kb'] * 1024) if kill['rss_kb'] is not None else 'size unknown'))
        if threshold is None:
            continue
        where = findings.TABLE_NAMES[threshold['table']]
        if threshold['minfree_pages'] is None:
            why = 'no threshold %s selects adj %d' % (where, kill['adj'])
        else:
            why = ('possible below %s (%d pages, %s), the threshold for adj >= %d %s'
                   % (findings.format_size(threshold['minfree_bytes']), threshold['minfree_pages'], share(threshold),
                      threshold['adj'], where))
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
        expect(0 < (memory['mem_total_bytes'] or 0) <= 512 * findings.MIB, "MemTotal reads the VM's RAM (512 MiB at most)")
    else:
        expect(facts['present'], 'the fake lowmemorykiller sysfs is mounted')
        expect(memory['mem_total_bytes'] == 512 * findings.MIB, 'MemTotal reads 512 MiB (the emulated /proc/meminfo)')
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
        # The story's kill (adj 0) was possible below the first row.
        table = 'current' if when == 'before' else 'original'
        row = (table, DEFAULTS['minfree'][0], DEFAULTS['adj'][0])
        expect(threshold is not None and (threshold['table'], threshold['minfree_pages'], threshold['adj']) == row,
               '%s was possible below %d pages, the threshold for adj >= %d %s'
               % ('the kill of site-build' if vm else "the story's kill", row[1], row[2], findings.TABLE_NAMES[table]))
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
        expect(all(facts['params'].get(name) == value for name, value in lmk.DISABLED_VALUES.items()),
               ', '.join('%s %s' % (name, lmk.format_value(value)) for name, value in sorted(lmk.DISABLED_VALUES.items())))
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
