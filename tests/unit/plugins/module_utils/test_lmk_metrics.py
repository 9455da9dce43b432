# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lmk_metrics: the .prom text, read back with Prometheus' own text parser (prometheus-client)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.lowmem.hardening.plugins.module_utils import lmk_metrics as metrics

MIB = 1 << 20


def facts(present=True, disabled=False, thresholds=None, killers=(), findings=(), swap_total=0):
    rows = thresholds if thresholds is not None else [
        {'adj': 0, 'minfree_bytes': 6 * MIB, 'minfree_percent': 1.17},
        {'adj': 12, 'minfree_bytes': 64 * MIB, 'minfree_percent': 12.5}]
    return {'present': present, 'disabled': disabled if present else None, 'thresholds': rows if present else [],
            'memory': {'mem_total_bytes': 512 * MIB, 'mem_available_bytes': 200 * MIB,
                       'swap_total_bytes': swap_total, 'swap_used_bytes': 0, 'swaps': []},
            'killers': list(killers), 'findings': list(findings)}


def parse(text):
    """{(name, labels as sorted tuple): value}, and {family name: type}, through prometheus_client's parser."""
    samples, types = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in samples, 'duplicate series %r' % (key,)
            samples[key] = sample.value
    return samples, types


def test_every_series_of_a_host_with_kills():
    text = metrics.render(
        facts(killers=[{'name': 'earlyoom', 'running': True}, {'name': 'systemd-oomd', 'running': False}],
              findings=[{'severity': 'warning'}, {'severity': 'warning'}, {'severity': 'info'}], swap_total=MIB),
        {'lowmemorykiller': {'count': 3, 'newest_timestamp': 1707013724.25},
         'earlyoom': {'count': 1, 'newest_timestamp': None}},
        30 * 86400)
    samples, types = parse(text)
    assert set(types.values()) == {'gauge'}
    assert samples[('lowmem_lmk_state', (('state', 'enabled'),))] == 1
    assert samples[('lowmem_lmk_state', (('state', 'disabled'),))] == 0
    assert samples[('lowmem_lmk_state', (('state', 'absent'),))] == 0
    assert samples[('lowmem_lmk_top_threshold_ratio', ())] == pytest.approx(0.125)
    assert samples[('lowmem_lmk_threshold_bytes', (('adj', '12'),))] == 64 * MIB
    assert samples[('lowmem_lmk_threshold_bytes', (('adj', '0'),))] == 6 * MIB
    assert samples[('lowmem_memory_total_bytes', ())] == 512 * MIB
    assert samples[('lowmem_swap_total_bytes', ())] == MIB
    assert samples[('lowmem_kills', (('killer', 'lowmemorykiller'),))] == 3
    assert samples[('lowmem_kills', (('killer', 'earlyoom'),))] == 1
    # every known killer has a series, 0 when it killed nothing
    assert samples[('lowmem_kills', (('killer', 'oom-killer'),))] == 0
    assert len([key for key in samples if key[0] == 'lowmem_kills']) == len(metrics.KILLERS)
    assert samples[('lowmem_kills_window_seconds', ())] == 30 * 86400
    assert samples[('lowmem_last_kill_timestamp_seconds', (('killer', 'lowmemorykiller'),))] == 1707013724.25
    assert ('lowmem_last_kill_timestamp_seconds', (('killer', 'earlyoom'),)) not in samples  # date unknown
    assert samples[('lowmem_killer_running', (('killer', 'earlyoom'),))] == 1
    assert samples[('lowmem_killer_running', (('killer', 'systemd-oomd'),))] == 0
    assert samples[('lowmem_findings', (('severity', 'warning'),))] == 2
    assert samples[('lowmem_findings', (('severity', 'info'),))] == 1
    assert text.endswith('\n') and '# HELP lowmem_kills ' in text


def test_host_without_the_driver():
    samples, _types = parse(metrics.render(facts(present=False), {}, None))
    assert samples[('lowmem_lmk_state', (('state', 'absent'),))] == 1
    assert samples[('lowmem_lmk_state', (('state', 'enabled'),))] == 0
    assert not [key for key in samples if key[0] in ('lowmem_lmk_top_threshold_ratio', 'lowmem_lmk_threshold_bytes')]
    assert samples[('lowmem_kills_window_seconds', ())] == 0
    assert samples[('lowmem_findings', (('severity', 'warning'),))] == 0


def test_disabled_driver_and_unknown_ram():
    host = facts(disabled=True, thresholds=[{'adj': 9999, 'minfree_bytes': 4096, 'minfree_percent': None}])
    samples, _types = parse(metrics.render(host, {}, None))
    assert samples[('lowmem_lmk_state', (('state', 'disabled'),))] == 1
    assert ('lowmem_lmk_top_threshold_ratio', ()) not in samples
    assert samples[('lowmem_lmk_threshold_bytes', (('adj', '9999'),))] == 4096


def test_a_killer_name_is_escaped_as_a_label_value():
    samples, _types = parse(metrics.render(facts(), {'odd "killer"\\x': {'count': 2, 'newest_timestamp': None}}, None))
    assert samples[('lowmem_kills', (('killer', 'odd "killer"\\x'),))] == 2


@pytest.mark.parametrize('since, expected', [
    (None, (None, None)),
    ('30d', (30 * 86400, None)),
    ('90m', (5400, None)),
])
def test_window_of_a_duration(since, expected):
    assert metrics.window(since) == expected


def test_window_of_a_date_is_its_epoch():
    window_seconds, since_timestamp = metrics.window('2024-02-04')
    assert window_seconds is None and since_timestamp is not None
    samples, _types = parse(metrics.render(facts(), {}, window_seconds, since_timestamp))
    assert samples[('lowmem_kills_since_timestamp_seconds', ())] == since_timestamp
    assert samples[('lowmem_kills_window_seconds', ())] == 0


def test_window_of_bad_text():
    with pytest.raises(ValueError, match='since'):
        metrics.window('yesterday')
