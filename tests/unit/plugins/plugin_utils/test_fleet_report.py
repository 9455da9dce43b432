# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugin_utils/fleet_report.py: the fleet report's model and its JSON, Markdown and HTML, from results
shaped as the role registers them."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import json
import re
from html.parser import HTMLParser

import pytest

from ansible_collections.lowmem.hardening.plugins.plugin_utils import fleet_report as fr

MIB = 1024 * 1024
RAM = 512 * MIB
DEFAULT_TABLE = [  # the driver's defaults on 512 MiB with 4 KiB pages
    {'minfree_pages': 1536, 'minfree_bytes': 6 * MIB, 'minfree_mib': 6.0, 'minfree_percent': 1.17, 'adj': 0},
    {'minfree_pages': 2048, 'minfree_bytes': 8 * MIB, 'minfree_mib': 8.0, 'minfree_percent': 1.56, 'adj': 1},
    {'minfree_pages': 4096, 'minfree_bytes': 16 * MIB, 'minfree_mib': 16.0, 'minfree_percent': 3.12, 'adj': 6},
    {'minfree_pages': 16384, 'minfree_bytes': 64 * MIB, 'minfree_mib': 64.0, 'minfree_percent': 12.5, 'adj': 12},
]
DISABLED_TABLE = [{'minfree_pages': 1, 'minfree_bytes': 4096, 'minfree_mib': 0.0, 'minfree_percent': 0.0, 'adj': 9999}]
LMK_KILL = {'time': 'Mar 14 06:25:01', 'killer': 'lowmemorykiller', 'pid': 17651, 'comm': 'site-build', 'adj': 0,
            'rss_kb': 347768, 'signal': 'SIGKILL', 'cgroup': None, 'source': '/var/log/kern.log',
            'lines': ['send sigkill to 17651 (site-build), adj 0, size 86942']}
OOM_KILL = dict(LMK_KILL, time='Mar 15 07:00:00', killer='oom-killer', pid=900, comm='java', source='journal')


def info(present=True, disabled=True, table=None, kills=(), by_killer=None, findings=(), protection=(), swap=0):
    """A lowmemorykiller_info result as the role registers it."""
    facts = {
        'present': present, 'disabled': disabled if present else None, 'path': '/sys/module/lowmemorykiller/parameters',
        'params': {'adj': [9999], 'minfree': [1]} if present else {},
        'thresholds': (DISABLED_TABLE if disabled else DEFAULT_TABLE) if table is None else table,
        'persist': {'mechanisms': [{'method': 'tmpfiles', 'file': '/etc/tmpfiles.d/lowmemorykiller.conf'}]
                    if present and disabled else [], 'matches': True},
        'memory': {'mem_total_bytes': RAM, 'mem_available_bytes': 200 * MIB, 'swap_total_bytes': swap,
                   'swap_used_bytes': 0, 'swaps': [{'filename': '/swapfile', 'size_bytes': swap, 'used_bytes': 0}]
                   if swap else []},
        'killers': [], 'findings': list(findings), 'kills': list(kills),
        'kill_thresholds': [dict(DEFAULT_TABLE[0], table='original') if k['killer'] == 'lowmemorykiller' else None
                            for k in kills],
        'logs': [], 'unreadable': [], 'protection': list(protection), 'page_size': 4096,
    }
    if by_killer is not None:
        facts['kills_by_killer'] = by_killer
    return {'changed': False, 'lowmemorykiller': facts}


def lowmem_result(info_result=None, changed=False):
    result = {
        'lowmemorykiller': {'changed': changed, 'present': True, 'disabled': True, 'thresholds': DISABLED_TABLE,
                            'after': {'adj': [9999], 'minfree': [1]}, 'mem_total_bytes': RAM,
                            'persist': {'method': 'tmpfiles', 'file': '/etc/tmpfiles.d/lowmemorykiller.conf'}},
        'swapfile': {'changed': changed, 'path': '/swapfile', 'size': 64 * MIB, 'active': True,
                     'fstab': '/swapfile none swap sw 0 0'},
        'sysctl': {'changed': False, 'file': '/etc/sysctl.d/60-lowmem-hardening.conf',
                   'values': {'vm.swappiness': 10, 'vm.vfs_cache_pressure': 50}, 'not_applied': []},
    }
    if info_result is not None:
        result['lowmemorykiller_info'] = info_result
    return result


WARNING = {'severity': 'warning', 'code': 'lmk_threshold_high', 'message': 'starts killing at 12.5% of RAM'}
KILLS_FOUND = {'severity': 'warning', 'code': 'kills_found', 'message': '3 memory-pressure kills found'}
NO_SWAP = {'severity': 'info', 'code': 'lmk_disabled', 'message': 'disabled'}


def fleet():
    """Seven hosts, one of each kind, in play order (deliberately not the attention order)."""
    hosts = ['a-ok', 'b-skipped', 'c-failed', 'd-unreachable', 'e-warning', 'f-kills', 'g-later']
    gathered = {
        'a-ok': {'lowmem_result': lowmem_result(info(findings=[NO_SWAP])), 'registered': {}, 'removed': False},
        'b-skipped': {'lowmem_result': lowmem_result(), 'registered': {}, 'removed': False},
        'c-failed': {'lowmem_result': None, 'removed': True, 'registered': {
            'lowmemorykiller': lowmem_result()['lowmemorykiller'],
            'swapfile': {'failed': True, 'msg': 'not enough free space for /swapfile'}}},
        # no entry at all for d-unreachable
        'e-warning': {'lowmem_result': lowmem_result(info(disabled=False, findings=[WARNING])), 'removed': False},
        'f-kills': {'lowmem_result': lowmem_result(info(
            disabled=False, kills=[OOM_KILL],
            by_killer={'lowmemorykiller': {'count': 2, 'newest': LMK_KILL, 'newest_timestamp': 100.0},
                       'oom-killer': {'count': 1, 'newest': OOM_KILL, 'newest_timestamp': 200.0}},
            findings=[KILLS_FOUND, WARNING])), 'removed': False},
        'g-later': {'lowmem_result': None, 'registered': {}, 'removed': False},
    }
    return hosts, gathered


def model():
    hosts, gathered = fleet()
    return fr.build_model(hosts, gathered, window='30d', generated='2026-12-05T03:00:00+00:00')


def by_name(report):
    return dict((host['name'], host) for host in report['hosts'])


# --- classify and the model ------------------------------------------------------------------------

def test_every_host_of_the_play_is_listed_in_play_order():
    assert [host['name'] for host in model()['hosts']] == fleet()[0]


@pytest.mark.parametrize('name, status, severity', [
    ('a-ok', 'ok', 'ok'),
    ('b-skipped', 'report_skipped', 'skipped'),
    ('c-failed', 'failed', 'failed'),
    ('d-unreachable', 'unreachable', 'unreachable'),
    ('e-warning', 'ok', 'warning'),
    ('f-kills', 'ok', 'kill'),
    ('g-later', 'not_reached', 'not_reached'),
])
def test_status_and_severity_of_each_kind_of_host(name, status, severity):
    host = by_name(model())[name]
    assert (host['status'], host['severity']) == (status, severity)


def test_a_failed_host_names_the_step_and_keeps_what_the_steps_before_returned():
    host = by_name(model())['c-failed']
    assert host['detail'] == 'failed at swapfile: not enough free space for /swapfile'
    assert host['lowmemorykiller']['state'] == 'disabled'
    assert host['swap']['file'] is None and host['kills'] is None


def test_a_host_unreachable_in_the_role_is_unreachable_not_failed():
    registered = {'lowmemorykiller': {'unreachable': True, 'msg': 'ssh: connect to host: Connection refused'}}
    assert fr.classify(None, registered, removed=True) == (
        'unreachable', 'unreachable at lowmemorykiller: ssh: connect to host: Connection refused')


def test_a_long_message_is_cut_to_its_first_line_and_160_characters():
    registered = {'swapfile': {'failed': True, 'msg': 'x' * 300 + '\nsecond line'}}
    detail = fr.classify(None, registered, removed=True)[1]
    assert detail == 'failed at swapfile: ' + 'x' * 157 + '...'


def test_a_host_without_any_result_that_left_the_play_is_unreachable():
    assert fr.classify(None, {}, removed=True)[0] == 'unreachable'
    assert 'failed before the role' in fr.classify(None, {}, removed=True)[1]


def test_a_host_still_in_the_play_without_a_result_is_not_reached_yet():
    assert fr.classify(None, {}, removed=False)[0] == 'not_reached'


def test_a_host_that_failed_after_the_role_is_failed_with_its_data():
    hosts = ['late']
    report = fr.build_model(hosts, {'late': {'lowmem_result': lowmem_result(info()), 'removed': True}})
    host = report['hosts'][0]
    assert (host['status'], host['detail']) == ('failed', 'failed after the role')
    assert host['lowmemorykiller']['state'] == 'disabled' and host['kills']['total'] == 0


def test_a_skipped_report_still_shows_the_driver_swap_and_sysctl_from_the_module_calls():
    host = by_name(model())['b-skipped']
    assert host['lowmemorykiller']['state'] == 'disabled'
    assert host['lowmemorykiller']['thresholds'] == DISABLED_TABLE
    assert host['lowmemorykiller']['persisted_by'] == ['tmpfiles']
    assert host['swap']['file']['path'] == '/swapfile'
    assert host['sysctl']['values'] == {'vm.swappiness': 10, 'vm.vfs_cache_pressure': 50}
    assert host['kills'] is None and host['findings'] is None


def test_kills_are_counted_by_killer_from_kills_by_killer_with_the_newest():
    kills = by_name(model())['f-kills']['kills']
    assert kills['counted_from'] == 'kills_by_killer'
    assert kills['total'] == 3
    assert dict((k, v['count']) for k, v in kills['by_killer'].items()) == {'lowmemorykiller': 2, 'oom-killer': 1}
    assert kills['by_killer']['lowmemorykiller']['newest']['comm'] == 'site-build'
    assert kills['newest']['comm'] == 'java' and kills['window'] == '30d'


def test_without_kills_by_killer_the_kills_returned_are_counted_and_marked_so():
    facts = lowmem_result(info(disabled=False, kills=[LMK_KILL, OOM_KILL], findings=[KILLS_FOUND]))
    host = fr.build_model(['h'], {'h': {'lowmem_result': facts}})['hosts'][0]
    assert host['kills']['counted_from'] == 'kills'
    counts = dict((k, v['count']) for k, v in host['kills']['by_killer'].items())
    assert counts == {'lowmemorykiller': 1, 'oom-killer': 1}
    assert host['kills']['newest']['killer'] == 'oom-killer'
    assert '>=1' in fr.kills_text(host)


def test_the_newest_lowmemorykiller_kill_carries_the_threshold_that_allowed_it():
    facts = lowmem_result(info(disabled=False, kills=[LMK_KILL], findings=[KILLS_FOUND]))
    host = fr.build_model(['h'], {'h': {'lowmem_result': facts}})['hosts'][0]
    assert host['kills']['newest_threshold']['minfree_pages'] == 1536
    assert host['kills']['newest_threshold']['table'] == 'original'
    text = fr.kill_text(host['kills']['newest'], host['kills']['newest_threshold'])
    assert 'allowed by minfree 6 MiB for adj >= 0' in text


def test_findings_are_grouped_by_severity():
    findings = by_name(model())['f-kills']['findings']
    assert [f['code'] for f in findings['warning']] == ['kills_found', 'lmk_threshold_high']
    assert findings['info'] == []


def test_protection_where_it_exists():
    protection = [{'unit': 'ssh.service', 'level': 'protect', 'processes': [],
                   'killers': {'oom-killer': {'effect': 'protect', 'value': -1000}}}]
    facts = lowmem_result(info(protection=protection))
    host = fr.build_model(['h'], {'h': {'lowmem_result': facts}})['hosts'][0]
    assert host['protection'] == [{'unit': 'ssh.service', 'level': 'protect', 'effects': {'oom-killer': 'protect'}}]
    assert by_name(model())['a-ok']['protection'] == []


def test_a_host_without_the_driver_is_absent():
    facts = lowmem_result(info(present=False, table=[]))
    facts['lowmemorykiller'] = {'changed': False, 'present': False, 'thresholds': []}
    host = fr.build_model(['h'], {'h': {'lowmem_result': facts}})['hosts'][0]
    assert host['lowmemorykiller']['state'] == 'absent' and fr.threshold_chart(host) == ''


def test_counts_and_completeness():
    report = model()
    assert report['counts']['status'] == {'ok': 3, 'report_skipped': 1, 'failed': 1, 'unreachable': 1,
                                          'not_reached': 1}
    assert report['complete'] is False
    hosts, gathered = fleet()
    gathered["g-later"]["removed"] = True  # it left the play without a result: unreachable
    assert fr.build_model(hosts, gathered)['complete'] is True


def test_attention_order_kills_then_warnings_then_failed_unreachable_ok_skipped_not_reached():
    assert [h['name'] for h in fr.attention_order(model()['hosts'])] == [
        'f-kills', 'e-warning', 'c-failed', 'd-unreachable', 'a-ok', 'b-skipped', 'g-later']


def test_the_input_is_not_changed():
    hosts, gathered = fleet()
    before = copy.deepcopy(gathered)
    fr.build_model(hosts, gathered)
    assert gathered == before


# --- JSON --------------------------------------------------------------------------------------------

def test_json_is_the_model():
    report = model()
    assert json.loads(fr.render_json(report)) == report


# --- Markdown ----------------------------------------------------------------------------------------

def test_markdown_is_one_table_row_per_host_in_attention_order():
    text = fr.render_markdown(model())
    rows = [line for line in text.splitlines() if line.startswith('| ') and not line.startswith('| host')
            and not line.startswith('| ---')]
    assert [row.split(' | ')[0][2:] for row in rows] == [
        'f-kills', 'e-warning', 'c-failed', 'd-unreachable', 'a-ok', 'b-skipped', 'g-later']
    header_cells = text.splitlines()[4].count('|')
    assert all(row.count('|') - row.count('\\|') == header_cells for row in rows)
    assert 'lowmemorykiller 2, oom-killer 1' in rows[0]
    assert '1 not reached yet' in text and 'incomplete' in text


def test_markdown_escapes_pipes():
    facts = lowmem_result(info(findings=[dict(WARNING, code='a|b')]))
    text = fr.render_markdown(fr.build_model(['x|y'], {'x|y': {'lowmem_result': facts}}))
    assert 'x\\|y' in text and 'a\\|b' in text


# --- HTML --------------------------------------------------------------------------------------------

class Page(HTMLParser):
    """The host sections, the bars of each and every URL the page would load."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.hosts = []
        self.bars = {}
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'section' and 'data-host' in attrs:
            self.hosts.append((attrs['data-host'], attrs['data-severity'], attrs['class']))
        if tag == 'rect' and attrs.get('class') == 'bar':
            self.bars.setdefault(self.hosts[-1][0], []).append(attrs)
        for name in ('src', 'href'):
            if name in attrs:
                self.urls.append(attrs[name])


def parse(html):
    page = Page()
    page.feed(html)
    return page


def test_html_lists_every_host_in_attention_order_with_its_severity_class():
    page = parse(fr.render_html(model()))
    assert [(name, severity) for name, severity, _cls in page.hosts] == [
        ('f-kills', 'kill'), ('e-warning', 'warning'), ('c-failed', 'failed'), ('d-unreachable', 'unreachable'),
        ('a-ok', 'ok'), ('b-skipped', 'skipped'), ('g-later', 'not_reached')]
    assert all(cls == 'host sev-' + severity for _name, severity, cls in page.hosts)


def test_html_has_no_external_assets():
    html = fr.render_html(model())
    # Only links to the page's own host sections, in the attention order.
    assert parse(html).urls == ['#host-' + name for name in [
        'f-kills', 'e-warning', 'c-failed', 'd-unreachable', 'a-ok', 'b-skipped', 'g-later']]
    assert not re.search(r'url\(|@import|<script|<link', html)


def test_html_colours_each_severity():
    html = fr.render_html(model())
    for name, colour in fr.SEVERITY_COLOURS.items():
        assert '.sev-%s .badge, .legend .sev-%s, .overview a.sev-%s { background: %s; }' % (
            name, name, name, colour) in html


def test_html_bars_are_the_thresholds_against_ram():
    bars = parse(fr.render_html(model())).bars
    warning = bars['e-warning']
    assert [int(b['data-minfree-bytes']) for b in warning] == [row['minfree_bytes'] for row in DEFAULT_TABLE]
    widths = [float(b['width']) for b in warning]
    assert widths == [round(fr.CHART_WIDTH * row['minfree_bytes'] / float(RAM), 2) for row in DEFAULT_TABLE]
    assert widths[-1] == fr.CHART_WIDTH / 8.0  # 64 MiB of 512 MiB
    # one page still shows, as the narrowest bar
    assert [float(b['width']) for b in bars['a-ok']] == [1.0]
    assert 'd-unreachable' not in bars and 'g-later' not in bars


def test_html_escapes_what_hosts_say():
    facts = lowmem_result(info(findings=[dict(WARNING, message='<script>alert(1)</script>')]))
    html = fr.render_html(fr.build_model(['<b>'], {'<b>': {'lowmem_result': facts}}))
    assert '<script>' not in html and '&lt;script&gt;' in html and 'data-host="&lt;b&gt;"' in html


@pytest.mark.parametrize('nbytes, text', [(None, '?'), (512, '512 B'), (4096, '4 KiB'), (6 * MIB, '6 MiB'),
                                          (1536 * MIB, '1.5 GiB')])
def test_format_size(nbytes, text):
    assert fr.format_size(nbytes) == text


# --- gather and plain ----------------------------------------------------------------------------------

def test_gather_reads_the_result_and_the_registered_names_and_who_left_the_play():
    hostvars = {
        'web1': {'lowmem_result': {'swapfile': {'size': 1}}, '__reg': {'changed': False}, 'other': 1},
        'web2': {'__reg': {'failed': True, 'msg': 'boom'}},
    }
    gathered = fr.gather(hostvars, ['web1', 'web2', 'web3'], ['web1', 'web3'], 'lowmem_result', {'swapfile': '__reg'})
    assert gathered == {
        'web1': {'lowmem_result': {'swapfile': {'size': 1}}, 'registered': {'swapfile': {'changed': False}},
                 'removed': False},
        'web2': {'lowmem_result': None, 'registered': {'swapfile': {'failed': True, 'msg': 'boom'}}, 'removed': True},
        'web3': {'lowmem_result': None, 'registered': {}, 'removed': False},
    }


def test_plain_turns_mappings_and_sequences_into_json_types():
    class Text(str):
        pass
    assert fr.plain({Text('a'): (1, 2.5, True, None, Text('x'), b'y')}) == {'a': [1, 2.5, True, None, 'x', 'y']}
    assert [type(item) for item in fr.plain([Text('x'), {Text('k'): 1}])[1]] == [str]
    assert fr.plain(Text('x')).__class__ is str


# --- zram --------------------------------------------------------------------------------------------

ZRAM = {'changed': False, 'method': 'generator', 'device': '/dev/zram0', 'size': 235 * MIB, 'algorithm': 'zstd',
        'priority': 100, 'active': True, 'recreated': False,
        'files': ['/etc/systemd/system/dev-zram0.swap.d/lowmem-oomd.conf', '/etc/systemd/zram-generator.conf'],
        'stats': {'orig_data_size': 150 * MIB, 'compr_data_size': 48 * MIB, 'mem_used_total': 50 * MIB,
                  'mem_limit': 0, 'mem_used_max': 60 * MIB, 'same_pages': 10, 'pages_compacted': 0,
                  'huge_pages': 0, 'ratio': 3.125}}
ZRAM_ABSENT = {'changed': True, 'method': None, 'device': '/dev/zram0', 'size': 0, 'algorithm': None,
               'priority': None, 'active': False, 'recreated': False, 'files': [], 'stats': {}}


def zram_fleet():
    """Three hosts: zram in use, zram removed, zram not managed (no zram key in lowmem_result)."""
    with_zram = dict(lowmem_result(info()), zram=ZRAM)
    removed = dict(lowmem_result(info()), zram=ZRAM_ABSENT)
    return fr.build_model(['z-on', 'z-absent', 'z-unmanaged'], {
        'z-on': {'lowmem_result': with_zram, 'removed': False},
        'z-absent': {'lowmem_result': removed, 'removed': False},
        'z-unmanaged': {'lowmem_result': lowmem_result(info()), 'removed': False}})


def test_zram_is_in_the_model_where_lowmem_result_has_it():
    hosts = by_name(zram_fleet())
    assert hosts['z-on']['zram'] == {
        'device': '/dev/zram0', 'method': 'generator', 'size': 235 * MIB, 'algorithm': 'zstd', 'priority': 100,
        'active': True, 'stats': {'orig_data_size': 150 * MIB, 'compr_data_size': 48 * MIB,
                                  'mem_used_total': 50 * MIB, 'ratio': 3.125}}
    assert hosts['z-absent']['zram'] == {'device': '/dev/zram0', 'method': None, 'size': 0, 'algorithm': None,
                                         'priority': None, 'active': False, 'stats': None}
    assert hosts['z-unmanaged']['zram'] is None
    # zram's change counts among the host's changes
    assert hosts['z-absent']['changed'] == ['zram']


def test_a_skipped_or_failed_zram_call_is_not_shown_and_a_failed_one_names_the_step():
    skipped = dict(lowmem_result(info()), zram={'skipped': True, 'changed': False})
    report = fr.build_model(['s', 'f'], {
        's': {'lowmem_result': skipped, 'removed': False},
        'f': {'lowmem_result': None, 'removed': True, 'registered': {
            'swapfile': lowmem_result()['swapfile'],
            'zram': {'failed': True, 'msg': 'Not supported on this host: zram swap at boot needs systemd'}}}})
    hosts = by_name(report)
    assert hosts['s']['zram'] is None
    assert hosts['f']['status'] == 'failed'
    assert hosts['f']['detail'] == 'failed at zram: Not supported on this host: zram swap at boot needs systemd'
    assert hosts['f']['swap']['file']['path'] == '/swapfile' and hosts['f']['zram'] is None


def test_zram_text():
    hosts = by_name(zram_fleet())
    assert fr.zram_text(hosts['z-on']) == '/dev/zram0 235 MiB zstd, priority 100, generator; 3.12:1 (150 MiB in 48 MiB)'
    assert fr.zram_text(hosts['z-absent']) == 'none'
    assert fr.zram_text(hosts['z-unmanaged']) == ''
    nothing_stored = dict(hosts['z-on'], zram=dict(hosts['z-on']['zram'], algorithm=None,
                                                   stats=dict(hosts['z-on']['zram']['stats'], ratio=None)))
    assert fr.zram_text(nothing_stored) == '/dev/zram0 235 MiB default algorithm, priority 100, generator'


def test_zram_in_json_markdown_and_html():
    report = zram_fleet()
    assert json.loads(fr.render_json(report))['hosts'][0]['zram']['algorithm'] == 'zstd'
    lines = fr.render_markdown(report).splitlines()
    header = [cell.strip() for cell in lines[4].strip('|').split('|')]
    assert header.index('zram') == header.index('swap') + 1
    rows = dict((line.split(' | ')[0][2:], [cell.strip() for cell in line.strip('|').split(' | ')])
                for line in lines[6:] if line.startswith('| '))
    column = header.index('zram')
    assert rows['z-on'][column] == '/dev/zram0 235 MiB zstd, priority 100, generator; 3.12:1 (150 MiB in 48 MiB)'
    assert rows['z-absent'][column] == 'none'
    assert rows['z-unmanaged'][column] == ''
    html = fr.render_html(report)
    sections = dict((name, html.split('data-host="%s"' % name)[1].split('</section>')[0])
                    for name in ('z-on', 'z-absent', 'z-unmanaged'))
    assert '<dt>zram</dt><dd>/dev/zram0 235 MiB zstd, priority 100, generator; 3.12:1 (150 MiB in 48 MiB)</dd>' \
        in sections['z-on']
    assert '<dt>zram</dt><dd>none</dd>' in sections['z-absent']
    assert '<dt>zram</dt>' not in sections['z-unmanaged']
