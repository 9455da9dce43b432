# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A synthetic fleet of 30 hosts for the fleet report, shaped as the role registers its results, and the
collection's plugin_utils/fleet_report.py loaded from the work tree (it imports nothing of Ansible).

    python3 molecule/fleet/tests/synthetic.py DIR [PNG]   # writes DIR/lowmem-report.{json,md,html}[, a PNG]
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import importlib.util
import os
import random
import sys

PROJECT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
MIB = 1024 * 1024
PAGE = 4096
DEFAULT_MINFREE = [1536, 2048, 4096, 16384]
DEFAULT_ADJ = [0, 1, 6, 12]
KILLERS = ['lowmemorykiller', 'oom-killer', 'earlyoom']
COMMS = ['site-build', 'php-fpm', 'mysqld', 'java', 'node', 'cc1plus']


def load_fleet_report():
    path = os.path.join(PROJECT, 'plugins', 'plugin_utils', 'fleet_report.py')
    spec = importlib.util.spec_from_file_location('lowmem_fleet_report', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table(minfree, adj, ram):
    return [{'minfree_pages': pages, 'minfree_bytes': pages * PAGE, 'minfree_mib': pages * PAGE / float(MIB),
             'minfree_percent': round(100.0 * pages * PAGE / ram, 2), 'adj': a} for pages, a in zip(minfree, adj)]


def kill(rng, killer, day):
    return {'time': 'Dec %2d %02d:%02d:%02d' % (day, rng.randrange(24), rng.randrange(60), rng.randrange(60)),
            'killer': killer, 'pid': rng.randrange(300, 30000), 'comm': rng.choice(COMMS), 'adj': 0,
            'rss_kb': rng.randrange(10000, 400000), 'signal': 'SIGKILL', 'cgroup': None, 'source': '/var/log/kern.log',
            'lines': []}


def host_results(rng, index):
    """(lowmem_result or None, registered, removed) of synthetic host number index."""
    ram = [512, 1024, 2048, 4096][index % 4] * MIB
    kind = index % 10
    active = kind in (0, 1, 2, 3)
    minfree = DEFAULT_MINFREE if kind != 3 else [2048, 4096, 8192, 32768, 49152, 65536]
    adj = DEFAULT_ADJ if kind != 3 else [0, 100, 200, 300, 900, 906]
    rows = table(minfree, adj, ram) if active else table([1], [9999], ram)
    kills, by_killer = [], {}
    if kind in (0, 1):
        for killer in KILLERS[:1 + index % 3]:
            count = rng.randrange(1, 9)
            newest = kill(rng, killer, rng.randrange(1, 5))
            by_killer[killer] = {'count': count, 'newest': newest, 'newest_timestamp': float(rng.randrange(1, 10 ** 6))}
        kills = [max(by_killer.values(), key=lambda entry: entry['newest_timestamp'])['newest']]
    findings = []
    if kills:
        findings.append({'severity': 'warning', 'code': 'kills_found',
                         'message': '%d memory-pressure kills found in the logs' % sum(e['count'] for e in by_killer.values())})
    if active and rows[-1]['minfree_percent'] >= 10:
        findings.append({'severity': 'warning', 'code': 'lmk_threshold_high',
                         'message': 'lowmemorykiller starts killing at %s%% of RAM' % rows[-1]['minfree_percent']})
    if kind == 2:
        findings.append({'severity': 'warning', 'code': 'persist_missing', 'message': 'nothing sets the values at boot'})
    findings.append({'severity': 'info', 'code': 'lmk_disabled' if not active else 'several_killers',
                     'message': 'lowmemorykiller is disabled' if not active else 'earlyoom is installed too'})
    info = {'changed': False, 'lowmemorykiller': {
        'present': True, 'disabled': not active, 'params': {'minfree': minfree if active else [1]},
        'thresholds': rows,
        'persist': {'mechanisms': [] if kind == 2 else [{'method': 'tmpfiles'}]},
        'memory': {'mem_total_bytes': ram, 'mem_available_bytes': ram // 3, 'swap_total_bytes': ram,
                   'swap_used_bytes': rng.randrange(0, ram // 4),
                   'swaps': [{'filename': '/swapfile', 'size_bytes': ram, 'used_bytes': 0}]},
        'findings': findings, 'kills': kills, 'kill_thresholds': [None] * len(kills), 'kills_by_killer': by_killer,
        'unreadable': [], 'protection': [{'unit': 'ssh.service', 'level': 'protect',
                                          'killers': {'oom-killer': {'effect': 'protect'}}}] if index % 7 == 0 else [],
    }}
    result = {
        'lowmemorykiller': {'changed': False, 'present': True, 'disabled': not active, 'thresholds': rows,
                            'mem_total_bytes': ram, 'persist': {'method': 'tmpfiles'}},
        'swapfile': {'changed': False, 'path': '/swapfile', 'size': ram, 'active': True,
                     'fstab': '/swapfile none swap sw 0 0'},
        'sysctl': {'changed': False, 'file': '/etc/sysctl.d/60-lowmem-hardening.conf',
                   'values': {'vm.swappiness': 10, 'vm.vfs_cache_pressure': 50}, 'not_applied': []},
        'lowmemorykiller_info': info,
    }
    if kind == 7:
        del result['lowmemorykiller_info']
    if kind == 8 and index % 20 == 8:  # failed at the swap file
        return None, {'lowmemorykiller': result['lowmemorykiller'],
                      'swapfile': {'failed': True, 'msg': 'not enough free space for /swapfile'}}, True
    if kind == 8:
        return None, {}, True  # no result at all: unreachable
    if kind == 9 and index > 25:
        return None, {}, False  # a later batch
    return result, {}, False


def synthetic_model(fleet_report, count=30, seed=14):
    rng = random.Random(seed)
    hosts = ['droplet-%02d' % number for number in range(1, count + 1)]
    gathered = {}
    for index, name in enumerate(hosts):
        lowmem_result, registered, removed = host_results(rng, index)
        gathered[name] = {'lowmem_result': lowmem_result, 'registered': registered, 'removed': removed}
    return fleet_report.build_model(hosts, gathered, window='30d', generated='2026-12-05T03:00:00+00:00')


def main(argv):
    fleet_report = load_fleet_report()
    model = synthetic_model(fleet_report)
    directory = argv[1]
    if not os.path.isdir(directory):
        os.makedirs(directory)
    for name, render in (('lowmem-report.json', fleet_report.render_json), ('lowmem-report.md', fleet_report.render_markdown),
                         ('lowmem-report.html', fleet_report.render_html)):
        with open(os.path.join(directory, name), 'w') as handle:
            handle.write(render(model))
    if len(argv) > 2:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import browser
        with browser.Browser() as page:
            page.open(os.path.join(directory, 'lowmem-report.html'))
            page.screenshot(argv[2])


if __name__ == '__main__':
    main(sys.argv)
