# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.plugins.module_utils import lmk_findings as findings
from ansible_collections.lowmem.hardening.plugins.module_utils import lowmemorykiller as lmk

PAGE = 4096
MIB = 1024 * 1024
GIB = 1024 * MIB
P = '/sys/module/lowmemorykiller/parameters'
DEFAULTS = {'adj': [0, 1, 6, 12], 'minfree': [1536, 2048, 4096, 16384], 'cost': 32, 'debug_level': 1}


def memory(total=512 * MIB, swap=GIB, used=0):
    return {'mem_total_bytes': total, 'mem_available_bytes': total // 2, 'swap_total_bytes': swap,
            'swap_used_bytes': used, 'swaps': []}


def facts(params=None, present=True, mem=None, **extra):
    params = dict(DEFAULTS) if params is None else params
    mem = mem or memory()
    result = {
        'present': present, 'path': P, 'params': params if present else {},
        'thresholds': findings.thresholds(params, PAGE, mem['mem_total_bytes']) if present else [],
        'disabled': lmk.is_disabled(params) if present else None,
        'persist': {'mechanisms': [], 'matches': None}, 'memory': mem, 'killers': [], 'kills': [],
        'unreadable': [], 'init_oom_score_adj': 0,
    }
    result.update(extra)
    return result


def codes(found):
    return [f['code'] for f in found]


def by_code(found, code):
    matching = [f for f in found if f['code'] == code]
    assert len(matching) == 1, codes(found)
    return matching[0]


# ---------------------------------------------------------------------------
# Memory

def test_memory_summary():
    meminfo = host.parse_meminfo('MemTotal: 524288 kB\nMemAvailable: 1000 kB\nSwapTotal: 2048 kB\nSwapFree: 1024 kB\n')
    assert findings.memory_summary(meminfo, []) == {
        'mem_total_bytes': 512 * MIB, 'mem_available_bytes': 1000 * 1024, 'swap_total_bytes': 2 * MIB,
        'swap_used_bytes': MIB, 'swaps': []}
    assert findings.memory_summary({}, [])['swap_used_bytes'] is None


def test_thresholds_in_pages_mib_and_percent():
    rows = findings.thresholds(DEFAULTS, PAGE, 512 * MIB)
    assert [(r['minfree_pages'], r['minfree_mib'], r['minfree_percent'], r['adj']) for r in rows] == [
        (1536, 6.0, 1.17, 0), (2048, 8.0, 1.56, 1), (4096, 16.0, 3.12, 6), (16384, 64.0, 12.5, 12)]


# ---------------------------------------------------------------------------
# Boot-time values

@pytest.mark.parametrize('method', lmk.PERSIST_METHODS)
def test_boot_values_read_what_render_persistence_writes(method):
    values = {'adj': [0, 58, 352, 705], 'minfree': [1, 2, 3, 4], 'cost': 32, 'enable_adaptive_lmk': False}
    text = lmk.render_persistence(method, P, values)
    assert findings.boot_values(text, P) == values
    assert findings.boot_values(text, '/sys/module/other/parameters') == {}


def test_boot_values_hand_written_lines():
    text = '\n'.join([
        '# echo 1 > %s/minfree' % P,
        'w+ %s/adj - - - - 9999' % P,
        "echo '1' > %s/minfree" % P,
        'echo 3 > /proc/sys/vm/drop_caches',
        '',
    ])
    assert findings.boot_values(text, P) == {'adj': [9999], 'minfree': [1]}


def test_cmdline_values():
    text = 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 lowmemorykiller.minfree=1 lowmemorykiller.adj=9999 quiet\n'
    assert findings.cmdline_values(text) == {'minfree': [1], 'adj': [9999]}
    assert findings.cmdline_values('root=/dev/sda1\n') == {}


def test_boot_matches_allows_androids_conversion():
    runtime = {'adj': [0, 58, 352, 705], 'minfree': [1536, 2048, 4096, 16384]}
    assert findings.boot_matches({'adj': [0, 1, 6, 12]}, runtime)
    assert findings.boot_matches({'adj': [0, 58, 352, 705], 'minfree': [1536, 2048, 4096, 16384]}, runtime)
    assert not findings.boot_matches({'minfree': [1]}, runtime)
    assert not findings.boot_matches({'enable_lmk': 0}, runtime)


def test_persist_summary():
    runtime = {'adj': [9999], 'minfree': [1]}
    good = {'method': 'tmpfiles', 'file': '/etc/tmpfiles.d/lowmemorykiller.conf', 'values': runtime, 'managed': True}
    stale = {'method': 'cmdline', 'file': '/proc/cmdline', 'values': {'minfree': [2]}, 'managed': False}
    assert findings.persist_summary([good], runtime) == {'mechanisms': [dict(good, matches=True)], 'matches': True}
    assert findings.persist_summary([good, stale], runtime)['matches'] is False
    assert findings.persist_summary([], runtime) == {'mechanisms': [], 'matches': None}


# ---------------------------------------------------------------------------
# Other killers

@pytest.mark.parametrize('argv, expected', [
    ([], {'mem_term_percent': 10.0, 'mem_kill_percent': 5.0, 'swap_term_percent': 10.0, 'swap_kill_percent': 5.0}),
    (['-m', '5,2', '-s', '20'], {'mem_term_percent': 5.0, 'mem_kill_percent': 2.0, 'swap_term_percent': 20.0,
                                 'swap_kill_percent': 10.0}),
    (['-r', '60', '-m4', '--avoid', '(^|/)(init|sshd)$'], {'mem_term_percent': 4.0, 'mem_kill_percent': 2.0,
                                                           'swap_term_percent': 10.0, 'swap_kill_percent': 5.0}),
    (['-M', '409600,204800'], {'mem_term_percent': 10.0, 'mem_kill_percent': 5.0, 'swap_term_percent': 10.0,
                               'swap_kill_percent': 5.0, 'mem_term_kib': 409600.0, 'mem_kill_kib': 204800.0}),
])
def test_earlyoom_thresholds(argv, expected):
    assert findings.earlyoom_thresholds(argv) == expected


def test_earlyoom_args_from_default_file():
    text = '# Default settings for earlyoom.\nEARLYOOM_ARGS="-r 60 -m 5 --avoid \'(^|/)(sshd)$\'"\n'
    assert findings.earlyoom_args_from_default(text) == ['-r', '60', '-m', '5', '--avoid', '(^|/)(sshd)$']
    assert findings.earlyoom_args_from_default('# nothing\n') == []


def test_oomd_thresholds_later_files_override():
    main = '[OOM]\n#SwapUsedLimit=90%\nDefaultMemoryPressureLimit=50%\n'
    dropin = '[OOM]\nDefaultMemoryPressureDurationSec=20s\n[Other]\nSwapUsedLimit=1%\n'
    assert findings.oomd_thresholds([main, dropin]) == {
        'SwapUsedLimit': '90%', 'DefaultMemoryPressureLimit': '50%', 'DefaultMemoryPressureDurationSec': '20s'}
    assert findings.oomd_thresholds([]) == findings.OOMD_DEFAULTS


def test_nohang_thresholds():
    text = ('## thresholds\nsoft_threshold_min_mem = 8 %\nhard_threshold_min_mem = 4 %  # comment\n'
            'post_action_gui_notifications = False\nmem_min_sigterm = 10 %\n')
    assert findings.nohang_thresholds(text) == {
        'soft_threshold_min_mem': '8 %', 'hard_threshold_min_mem': '4 %', 'mem_min_sigterm': '10 %'}


# ---------------------------------------------------------------------------
# Findings

def test_the_2014_case():
    """512 MB RAM, the default table, 1 GiB of swap and none of it used."""
    found = findings.assess(facts())
    warning = by_code(found, 'lmk_kills_before_swap')
    assert warning['severity'] == 'warning'
    assert '12.5% of 512 MiB RAM' in warning['message']
    assert '64 MiB' in warning['message'] and '1024 MiB of swap is unused' in warning['message']
    assert 'lmk_threshold_high' not in codes(found)
    assert by_code(found, 'lmk_adj_includes_system')['severity'] == 'warning'
    # the defaults need no persistence
    assert 'persist_missing' not in codes(found)


def test_high_threshold_with_swap_in_use():
    found = findings.assess(facts(mem=memory(used=512 * MIB)))
    assert 'lmk_kills_before_swap' not in codes(found)
    assert '12.5%' in by_code(found, 'lmk_threshold_high')['message']


def test_a_threshold_at_10_percent_or_less_is_fine():
    params = dict(DEFAULTS, minfree=[1536, 2048, 4096, 8192])
    found = findings.assess(facts(params))
    assert not set(['lmk_kills_before_swap', 'lmk_threshold_high']) & set(codes(found))


def test_disabled_driver():
    params = dict(DEFAULTS, adj=[9999], minfree=[1])
    found = findings.assess(facts(params, persist=findings.persist_summary(
        [{'method': 'tmpfiles', 'file': '/etc/tmpfiles.d/lowmemorykiller.conf', 'values': {'adj': [9999], 'minfree': [1]},
          'managed': True}], params)))
    assert by_code(found, 'lmk_disabled')['severity'] == 'info'
    assert not set(['lmk_kills_before_swap', 'lmk_adj_includes_system', 'persist_missing',
                    'persist_out_of_sync']) & set(codes(found))


def test_adj_above_init_spares_it():
    params = dict(DEFAULTS, adj=[100, 200, 300, 900])
    assert 'lmk_adj_includes_system' not in codes(findings.assess(facts(params)))
    # ...unless init runs with a higher oom_score_adj
    found = findings.assess(facts(params, init_oom_score_adj=100))
    assert 'init (PID 1, oom_score_adj 100)' in by_code(found, 'lmk_adj_includes_system')['message']


def test_runtime_only_values_are_lost_at_reboot():
    params = dict(DEFAULTS, adj=[9999], minfree=[1])
    warning = by_code(findings.assess(facts(params)), 'persist_missing')
    assert 'adj=9999, minfree=1' in warning['message']


def test_boot_values_out_of_sync():
    params = dict(DEFAULTS, adj=[9999], minfree=[1])
    persist = findings.persist_summary([{'method': 'cron', 'file': '/etc/cron.d/lowmemorykiller',
                                         'values': {'adj': [9999], 'minfree': [2]}, 'managed': True}], params)
    warning = by_code(findings.assess(facts(params, persist=persist)), 'persist_out_of_sync')
    assert warning['message'].startswith('/etc/cron.d/lowmemorykiller (cron) sets minfree=2 (the kernel shows 1)')
    assert 'persist_missing' not in codes(findings.assess(facts(params, persist=persist)))


def test_host_without_the_driver():
    found = findings.assess(facts(present=False, mem=memory(total=GIB, swap=0)))
    assert codes(found) == ['no_swap', 'lmk_absent']
    assert by_code(found, 'no_swap')['severity'] == 'warning'
    big = findings.assess(facts(present=False, mem=memory(total=64 * GIB, swap=0)))
    assert by_code(big, 'no_swap')['severity'] == 'info'
    assert '64.0 GiB' in by_code(big, 'no_swap')['message']
    assert codes(findings.assess(facts(present=False, mem=memory(total=64 * GIB)))) == ['lmk_absent']


def test_lmkd_overwrites_the_values():
    lmkd = {'name': 'lmkd', 'installed': True, 'running': True, 'pids': [612], 'thresholds': {}, 'config': None}
    found = findings.assess(facts(killers=[lmkd]))
    assert 'overwriting' in by_code(found, 'lmkd_overwrites')['message']
    assert 'lmkd, ' not in by_code(found, 'several_killers')['message'][:40]
    assert 'lowmemorykiller, lmkd' in by_code(found, 'several_killers')['message']


def test_other_killers_are_described():
    earlyoom = {'name': 'earlyoom', 'installed': True, 'running': True, 'pids': [700], 'config': None,
                'thresholds': findings.earlyoom_thresholds(['-m', '5'])}
    oomd = {'name': 'systemd-oomd', 'installed': True, 'running': True, 'pids': [845], 'config': None,
            'thresholds': findings.oomd_thresholds([])}
    installed_only = {'name': 'nohang', 'installed': True, 'running': False, 'pids': [], 'config': None,
                      'thresholds': {}}
    found = findings.assess(facts(present=False, killers=[earlyoom, oomd, installed_only]))
    assert by_code(found, 'earlyoom_running')['message'] == (
        'earlyoom is running (pid 700): it sends SIGTERM when MemAvailable <= 5% and SwapFree <= 10%, '
        'SIGKILL at 2.5% and 5%.')
    assert '90%' in by_code(found, 'systemd_oomd_running')['message']
    assert 'earlyoom, systemd-oomd' in by_code(found, 'several_killers')['message']
    assert 'nohang_running' not in codes(found)


def test_kills_are_summed_up():
    kills = [{'killer': 'lowmemorykiller', 'pid': 1204, 'comm': 'mysqld', 'cgroup': None, 'time': 'Feb  4 02:28:44'},
             {'killer': 'lowmemorykiller', 'pid': 1500, 'comm': 'php5-fpm', 'cgroup': None, 'time': 'Feb  4 02:28:45'},
             {'killer': 'systemd-oomd', 'pid': None, 'comm': None, 'cgroup': '/system.slice/a.service', 'time': 'x'}]
    warning = by_code(findings.assess(facts(kills=kills)), 'kills_found')
    assert warning['message'] == ('3 memory-pressure kills found in the logs (lowmemorykiller 2, systemd-oomd 1); '
                                  'the newest: systemd-oomd killed /system.slice/a.service at x.')
    one = by_code(findings.assess(facts(kills=kills[:1])), 'kills_found')['message']
    assert one.startswith('1 memory-pressure kill found') and 'mysqld (pid 1204) at Feb  4 02:28:44' in one
    stamp = dict(kills[0], time='2392.102421')
    assert by_code(findings.assess(facts(kills=[stamp])), 'kills_found')['message'].endswith(
        'at 2392.102421 s after boot.')


# ---------------------------------------------------------------------------
# The threshold behind a lowmemorykiller kill

def lmk_kill(adj, lines=None, killer='lowmemorykiller'):
    return {'time': 'Mar 14 02:17:09', 'killer': killer, 'pid': 17651, 'comm': 'site-build', 'adj': adj,
            'rss_kb': 347768, 'signal': 'SIGKILL', 'cgroup': None, 'source': '/var/log/kern.log',
            'lines': lines or ['Mar 14 02:17:09 droplet kernel: [12964.318276] send sigkill to 17651 (site-build), '
                               'adj %s, size 86942' % adj]}


def state_text(path=P, original=None):
    original = original or {'adj': '0,1,6,12\n', 'minfree': '1536,2048,4096,16384\n', 'cost': '32\n'}
    return json.dumps({'paths': {path: {'original': original, 'adj_autodetect': False, 'persisted': ['adj']}}})


def test_original_params_from_the_state_file():
    assert findings.original_params(state_text(), P) == {'adj': [0, 1, 6, 12], 'minfree': [1536, 2048, 4096, 16384],
                                                         'cost': 32}
    assert findings.original_params(state_text(), P + '/') == findings.original_params(state_text(), P)
    assert findings.original_params(state_text(path='/elsewhere'), P) is None


@pytest.mark.parametrize('text', ['', '{not json', '[]', '{"paths": []}', '{"paths": {"%s": {}}}' % P,
                                  '{"paths": {"%s": {"original": {"adj": 5}}}}' % P])
def test_original_params_none_from_a_file_without_them(text):
    assert findings.original_params(text, P) is None


@pytest.mark.parametrize('adj, pages, row_adj', [
    (0, 1536, 0),  # adj 0 is a candidate from the first row on
    (5, 2048, 1),  # rows with adj 0 and 1 select it; the highest of their minfree
    (6, 4096, 6),
    (12, 16384, 12),
    (1000, 16384, 12),
])
def test_kill_threshold_is_the_highest_minfree_whose_adj_selects_the_victim(adj, pages, row_adj):
    threshold = findings.kill_threshold(lmk_kill(adj), DEFAULTS, None, PAGE, 512 * MIB)
    assert threshold == {'minfree_pages': pages, 'minfree_bytes': pages * PAGE, 'minfree_mib': round(pages * PAGE / MIB, 2),
                         'minfree_percent': float('%.3g' % (100.0 * pages * PAGE / (512 * MIB))), 'adj': row_adj,
                         'table': 'current'}


def test_kill_threshold_unordered_table_and_unused_entries():
    # not the last row that selects adj 6, the highest minfree that does
    unordered = {'minfree': [300, 100, 200], 'adj': [0, 6, 900]}
    assert findings.kill_threshold(lmk_kill(6), unordered, None, PAGE, None)['minfree_pages'] == 300
    # the driver uses only the first min(len(adj), len(minfree)) pairs
    short_adj = {'minfree': [1536, 2048, 4096, 16384], 'adj': [0, 1]}
    assert findings.kill_threshold(lmk_kill(12), short_adj, None, PAGE, None)['minfree_pages'] == 2048


def test_kill_threshold_prefers_the_values_saved_before_the_change():
    disabled = {'adj': [9999], 'minfree': [1], 'cost': 32}
    threshold = findings.kill_threshold(lmk_kill(0), disabled, findings.original_params(state_text(), P), PAGE,
                                        512 * MIB)
    assert (threshold['table'], threshold['minfree_pages'], threshold['adj']) == ('original', 1536, 0)
    # without saved values: today's table, which no longer selects adj 0
    assert findings.kill_threshold(lmk_kill(0), disabled, None, PAGE, 512 * MIB) == {
        'minfree_pages': None, 'minfree_bytes': None, 'minfree_mib': None, 'minfree_percent': None, 'adj': None,
        'table': 'current'}
    # saved values whose table cannot be read: today's
    unreadable = {'adj': 'not,numbers', 'minfree': [1536]}
    assert findings.kill_threshold(lmk_kill(0), DEFAULTS, unreadable, PAGE, None)['table'] == 'current'


@pytest.mark.parametrize('lines', [
    ["[ 8101.400000] lowmemorykiller: Killing 'Web Content' (7012) (tgid 7001), adj 900,",
     "[ 8101.400000]    to free 52100kB (50000KB 2100KB) on behalf of 'Chrome_ChildIOT' (7100) because",
     '[ 8101.400000]    cache 40000kB is below limit 61440kB for oom_score_adj 529',
     '[ 8101.400000]    Free memory is 3000kB above reserved'],
    ["Feb  4 03:00:00 tv kernel: lowmemorykiller: Killing 'Web Content' (7012), adj 900,#012   to free 52100kB on "
     "behalf of 'kswapd0' (95) because#012   cache 40000kB is below limit 61440kB for oom_score_adj 529#012   Free "
     "memory is 800kB above reserved"],
])
def test_kill_threshold_from_the_limit_the_record_prints(lines):
    # the record names the row that selected the victim, whatever any table says
    threshold = findings.kill_threshold(lmk_kill(900, lines), DEFAULTS, DEFAULTS, PAGE, 512 * MIB)
    assert threshold == {'minfree_pages': 15360, 'minfree_bytes': 61440 * 1024, 'minfree_mib': 60.0,
                         'minfree_percent': 11.7, 'adj': 529, 'table': 'record'}


def test_kill_threshold_none_when_nothing_tells():
    assert findings.kill_threshold(lmk_kill(0, killer='oom-killer'), DEFAULTS, DEFAULTS, PAGE, None) is None
    assert findings.kill_threshold(lmk_kill(None), DEFAULTS, None, PAGE, None) is None
    # no driver now and nothing saved
    assert findings.kill_threshold(lmk_kill(0), None, None, PAGE, None) is None


def test_the_newest_kill_is_reported_with_its_threshold():
    kills = [dict(lmk_kill(0), killer='oom-killer', time='Mar 13 10:00:00'), lmk_kill(0)]
    saved = findings.original_params(state_text(), P)
    disabled = {'adj': [9999], 'minfree': [1], 'cost': 32}
    message = by_code(findings.assess(facts(disabled, kills=kills, page_size=PAGE, original_params=saved)),
                      'kills_found')['message']
    assert message == ('2 memory-pressure kills found in the logs (lowmemorykiller 1, oom-killer 1); the newest: '
                       'lowmemorykiller killed site-build (pid 17651) at Mar 14 02:17:09, allowed by the threshold '
                       'minfree 1536 pages (6 MiB, 1.2% of RAM) for adj >= 0, in the values from before '
                       'lowmem.hardening changed them.')
    today = by_code(findings.assess(facts(disabled, kills=kills, page_size=PAGE)), 'kills_found')['message']
    assert today.endswith("at Mar 14 02:17:09, but no threshold in today's values selects adj 0.")
    one_page = {'adj': [0], 'minfree': [1]}
    tiny = by_code(findings.assess(facts(one_page, kills=kills, page_size=PAGE)), 'kills_found')['message']
    assert tiny.endswith("minfree 1 page (4 KiB, <0.1% of RAM) for adj >= 0, in today's values.")
    # another killer's kill is the newest: no threshold to tell
    other = by_code(findings.assess(facts(kills=kills[:1], page_size=PAGE)), 'kills_found')['message']
    assert other.endswith('killed site-build (pid 17651) at Mar 13 10:00:00.')


def test_unreadable_sources_are_reported():
    unreadable = [{'source': 'dmesg', 'error': 'dmesg: read kernel buffer failed: Operation not permitted'}]
    info = by_code(findings.assess(facts(unreadable=unreadable)), 'unreadable')
    assert info['severity'] == 'info' and 'become: true' in info['message']


def test_warnings_come_first():
    severities = [f['severity'] for f in findings.assess(facts(present=False, mem=memory(total=GIB, swap=0)))]
    assert severities == sorted(severities, key=findings.SEVERITIES.index)
