# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import lowmemorykiller as lmk
from ansible_collections.lowmem.hardening.plugins.module_utils.lowmemorykiller import ParamError

PAGE = 4096
MIB = 1024 * 1024
RAM_512M = 512 * MIB
DEFAULTS = {'adj': [0, 1, 6, 12], 'minfree': [1536, 2048, 4096, 16384], 'cost': 32, 'debug_level': 1}


# -- reading ---------------------------------------------------------------

@pytest.mark.parametrize('text, value', [
    ('0,1,6,12\n', [0, 1, 6, 12]),
    ('32\n', 32),
    ('-1000\n', -1000),
    ('Y\n', True),
    ('N\n', False),
    ('weird value\n', 'weird value'),
])
def test_parse_kernel_value(text, value):
    assert lmk.parse_kernel_value(text) == value


@pytest.mark.parametrize('text, value', [
    ('9999\n', [9999]),
    ('\n', []),
    ('1536,2048\n', [1536, 2048]),
])
def test_parse_kernel_array_is_always_a_list(text, value):
    assert lmk.parse_kernel_array(text) == value


def test_parse_kernel_array_rejects_text():
    with pytest.raises(ValueError):
        lmk.parse_kernel_array('abc\n')


def test_parse_params_keeps_tables_as_lists():
    params = lmk.parse_params({'adj': '9999\n', 'minfree': '1\n', 'cost': '32\n', 'enable_lmk': 'Y\n'})
    assert params == {'adj': [9999], 'minfree': [1], 'cost': 32, 'enable_lmk': True}


@pytest.mark.parametrize('value, text', [([0, 1, 6, 12], '0,1,6,12'), (32, '32'), (True, 'Y'), (False, 'N'), ([1], '1')])
def test_format_value(value, text):
    assert lmk.format_value(value) == text


# -- Android autodetection ---------------------------------------------------

@pytest.mark.parametrize('written, shown', [
    ([0, 1, 6, 12], [0, 58, 352, 705]),
    ([0, 8], [0, 470]),
    ([0, 15], [0, 1000]),
    ([-17, 0, 15], [-1000, 0, 1000]),   # C division truncates toward zero: -17000/17 = -1000
    ([-16, 1], [-941, 58]),             # -16000/17 = -941.17 -> -941, not -942
    # The result is stored in a short, as a real 6.1 kernel shows (fixtures/param_writes.json):
    ([-1000, 1], [6713, 58]),           # -58823 wraps to 6713
    ([600, 1], [-30242, 58]),           # 35294 wraps to -30242
    ([0, 100, 200], [0, 100, 200]),     # last entry not 1..15: untouched
    ([0, 16], [0, 16]),
    ([9999], [9999]),
    ([0], [0]),
    ([], []),
])
def test_android_adj(written, shown):
    assert lmk.android_adj(written) == shown


def test_expected_readbacks_depend_on_what_is_known():
    assert lmk.expected_readbacks('adj', [0, 1, 6, 12], None) == [[0, 1, 6, 12], [0, 58, 352, 705]]
    assert lmk.expected_readbacks('adj', [0, 1, 6, 12], True) == [[0, 58, 352, 705]]
    assert lmk.expected_readbacks('adj', [0, 1, 6, 12], False) == [[0, 1, 6, 12]]
    assert lmk.expected_readbacks('adj', [9999], None) == [[9999]]
    assert lmk.expected_readbacks('minfree', [1, 2, 6, 12], True) == [[1, 2, 6, 12]]


@pytest.mark.parametrize('written, shown, seen', [
    ([0, 1, 6, 12], [0, 58, 352, 705], True),
    ([0, 1, 6, 12], [0, 1, 6, 12], False),
    ([9999], [9999], None),
    ([0, 1, 6, 12], [0, 1], None),
])
def test_observe_autodetect(written, shown, seen):
    assert lmk.observe_autodetect(written, shown) is seen


# -- sizes -----------------------------------------------------------------

@pytest.mark.parametrize('value, pages', [
    (1, 1),
    ('1', 1),
    (16384, 16384),
    ('512K', 128),
    ('64M', 16384),
    ('64MiB', 16384),
    ('64mb', 16384),
    ('1G', 262144),
    ('1.5G', 393216),
    ('1K', 1),           # rounded up to a whole page
    ('5K', 2),
    ('12.5%', 16384),    # of 512 MiB
    ('100%', 131072),
    ('0.001%', 2),       # 5368.7 bytes -> 2 pages
])
def test_to_pages(value, pages):
    assert lmk.to_pages(value, PAGE, RAM_512M) == pages


def test_to_pages_uses_the_host_page_size():
    assert lmk.to_pages('64M', 16384, RAM_512M) == 4096
    assert lmk.to_pages('12.5%', 65536, RAM_512M) == 1024


@pytest.mark.parametrize('value, fragment', [
    ('64X', 'percentage of MemTotal'),
    ('abc', 'integer number of pages'),
    ('0%', 'above 0%'),
    ('150%', 'at most 100%'),
    (1.5, 'integer number of pages'),
    (True, 'integer number of pages'),
    (None, 'integer number of pages'),
    ('0K', 'less than one page'),
    ('-5M', 'integer number of pages'),
])
def test_to_pages_rejects(value, fragment):
    with pytest.raises(ParamError) as exc:
        lmk.to_pages(value, PAGE, RAM_512M)
    assert str(exc.value).startswith('minfree:')
    assert fragment in str(exc.value)


def test_percent_without_memtotal_is_an_error():
    with pytest.raises(ParamError, match='MemTotal'):
        lmk.to_pages('10%', PAGE, None)


# -- normalising -------------------------------------------------------------

def norm(state='present', **kwargs):
    return lmk.normalise_request(state, PAGE, RAM_512M, **kwargs)


def test_normalise_present():
    assert norm(minfree=['4M', '8M', '2%'], adj=[0, 100, 900]) == {'minfree': [1024, 2048, 2622], 'adj': [0, 100, 900]}
    assert norm(minfree=['1']) == {'minfree': [1]}
    assert norm(minfree=1) == {'minfree': [1]}
    assert norm(cost=16, debug_level=0) == {'cost': 16, 'debug_level': 0}
    assert norm(adj=['-1000', '0']) == {'adj': [-1000, 0]}


def test_normalise_disabled_writes_fixed_values():
    assert norm('disabled') == {'adj': [9999], 'minfree': [1]}
    assert norm('disabled', cost=16) == {'adj': [9999], 'minfree': [1], 'cost': 16}


def test_normalise_restored_takes_no_values():
    assert norm('restored') == {}


def test_normalise_extra_params():
    got = norm(extra_params={'enable_adaptive_lmk': 'N', 'vmpressure_file_min': '81250',
                             'lmk_fast_run': True, 'adj_max_shift': [1, 2]})
    assert got == {'enable_adaptive_lmk': False, 'vmpressure_file_min': 81250, 'lmk_fast_run': True,
                   'adj_max_shift': [1, 2]}


def test_normalise_respects_max_entries():
    eight = list(range(1, 9))
    with pytest.raises(ParamError, match='at most 6'):
        norm(minfree=eight)
    assert norm(minfree=eight, max_entries=8) == {'minfree': eight}


@pytest.mark.parametrize('kwargs, param, fragment', [
    (dict(minfree=[1, 2, 3, 4, 5, 6, 7]), 'minfree', 'at most 6'),
    (dict(adj=[0, 1, 2, 3, 4, 5, 6]), 'adj', 'at most 6'),
    (dict(minfree=[4096, 2048]), 'minfree', 'strictly ascending'),
    (dict(minfree=[2048, 2048]), 'minfree', 'strictly ascending'),
    (dict(adj=[12, 6]), 'adj', 'strictly ascending'),
    (dict(minfree=[-1]), 'minfree', 'out of range'),
    (dict(minfree=[2 ** 31]), 'minfree', 'out of range'),
    (dict(adj=[40000]), 'adj', 'out of range'),
    (dict(adj=[-1001]), 'adj', 'out of range'),
    (dict(adj=['x']), 'adj', 'not an integer'),
    (dict(adj=[True]), 'adj', 'not an integer'),
    (dict(minfree=[]), 'minfree', 'at least one'),
    (dict(minfree=[1, 2], adj=[0]), 'adj, minfree', 'same number of entries'),
    (dict(cost=0), 'cost', 'out of range'),
    (dict(debug_level=-1), 'debug_level', 'out of range'),
    (dict(extra_params={'bad name': 1}), 'extra_params', 'parameter name'),
    (dict(extra_params={'adj': [1]}), 'extra_params', 'own option'),
    (dict(extra_params={'enable_lmk': 1.5}), 'extra_params.enable_lmk', 'integer'),
    (dict(extra_params={'enable_lmk': 'maybe'}), 'extra_params.enable_lmk', 'integer'),
    (dict(extra_params={'enable_lmk': ['a']}), 'extra_params.enable_lmk', 'integer'),
    (dict(), 'state=present', 'at least one'),
])
def test_normalise_rejects(kwargs, param, fragment):
    with pytest.raises(ParamError) as exc:
        norm(**kwargs)
    assert str(exc.value).startswith(param)
    assert fragment in str(exc.value)


@pytest.mark.parametrize('state, kwargs, param', [
    ('disabled', dict(adj=[0]), 'adj'),
    ('disabled', dict(minfree=[1]), 'minfree'),
    ('restored', dict(minfree=[1]), 'minfree'),
    ('restored', dict(cost=3), 'cost'),
    ('restored', dict(extra_params={'a': 1}), 'extra_params'),
])
def test_fixed_states_reject_values(state, kwargs, param):
    with pytest.raises(ParamError) as exc:
        norm(state, **kwargs)
    assert str(exc.value).startswith(param)


# -- planning ----------------------------------------------------------------

def test_plan_writes_only_what_differs():
    assert lmk.plan_writes({'adj': [0, 1, 6, 12], 'cost': 32}, DEFAULTS) == []
    assert lmk.plan_writes({'adj': [9999], 'minfree': [1], 'cost': 32}, DEFAULTS) == [('adj', [9999]), ('minfree', [1])]


def test_plan_writes_in_a_stable_order():
    desired = {'zz_vendor': 1, 'minfree': [1], 'debug_level': 0, 'adj': [9999]}
    current = dict(DEFAULTS, zz_vendor=0)
    assert [write[0] for write in lmk.plan_writes(desired, current)] == ['adj', 'minfree', 'debug_level', 'zz_vendor']


def test_plan_accepts_the_autodetected_form():
    current = dict(DEFAULTS, adj=[0, 58, 352, 705])
    assert lmk.plan_writes({'adj': [0, 1, 6, 12]}, current, None) == []
    assert lmk.plan_writes({'adj': [0, 1, 6, 12]}, current, True) == []
    # Known not to autodetect: 0,58,352,705 really is different from 0,1,6,12 here.
    assert lmk.plan_writes({'adj': [0, 1, 6, 12]}, current, False) == [('adj', [0, 1, 6, 12])]


def test_plan_matches_vendor_kinds():
    current = dict(DEFAULTS, enable_lmk=True, lmk_fast_run=0)
    assert lmk.plan_writes({'enable_lmk': 1, 'lmk_fast_run': False}, current) == []
    assert lmk.plan_writes({'enable_lmk': 0, 'lmk_fast_run': True}, current) == [('enable_lmk', False), ('lmk_fast_run', 1)]


def test_plan_rejects_unknown_parameters():
    with pytest.raises(ParamError) as exc:
        lmk.plan_writes({'enable_lmk': 1}, DEFAULTS)
    assert str(exc.value).startswith('extra_params.enable_lmk: no such parameter')
    assert 'adj, cost, debug_level, minfree' in str(exc.value)


def test_predict_after():
    writes = [('adj', [0, 1, 6, 12]), ('minfree', [1])]
    current = dict(DEFAULTS, adj=[9999])
    assert lmk.predict_after(current, writes, None)['adj'] == [0, 1, 6, 12]
    assert lmk.predict_after(current, writes, True)['adj'] == [0, 58, 352, 705]
    assert lmk.predict_after(current, writes, None)['minfree'] == [1]


def test_ignored_entries_warning():
    after = dict(DEFAULTS, minfree=[1])
    warning = lmk.ignored_entries_warning({'minfree': [1]}, after)
    assert 'minfree has 1 entry, so the driver uses only the first 1 of adj' in warning and 'entries 1,6,12 are ignored' in warning
    after = dict(DEFAULTS, adj=[0, 1, 6, 12, 15, 16])
    warning = lmk.ignored_entries_warning({'adj': after['adj']}, after)
    assert 'minfree has only 4 entries' in warning and 'entries 15,16 are ignored' in warning
    assert lmk.ignored_entries_warning({'adj': [9999], 'minfree': [1]}, dict(DEFAULTS, adj=[9999], minfree=[1])) is None
    assert lmk.ignored_entries_warning({'adj': [1, 2, 3, 4]}, dict(DEFAULTS, adj=[1, 2, 3, 4])) is None


# -- the effective table -------------------------------------------------------

def test_effective_table_is_the_shorter_array():
    table = lmk.effective_table({'adj': [0, 1, 6, 12], 'minfree': [1536, 16384]}, PAGE, RAM_512M)
    assert table == [
        {'minfree_pages': 1536, 'minfree_bytes': 6 * MIB, 'minfree_percent': 1.17, 'adj': 0},
        {'minfree_pages': 16384, 'minfree_bytes': 64 * MIB, 'minfree_percent': 12.5, 'adj': 1},
    ]
    assert lmk.effective_table({'adj': [0], 'minfree': [1]}, PAGE, None)[0]['minfree_percent'] is None
    assert lmk.effective_table({'adj': [9999], 'minfree': [1]}, PAGE, RAM_512M)[0]['minfree_percent'] == 0.000763


@pytest.mark.parametrize('values, disabled', [
    ({'adj': [9999], 'minfree': [1]}, True),
    ({'adj': [9999], 'minfree': [1536, 2048]}, True),
    ({'adj': [1001, 2000], 'minfree': [1, 2]}, True),
    ({'adj': [0, 1, 6, 12], 'minfree': [1536, 2048, 4096, 16384]}, False),
    ({'adj': [1001, 1000], 'minfree': [1, 2]}, False),
    ({'adj': [0, 9999], 'minfree': [1]}, False),
    ({'adj': [], 'minfree': [1]}, True),
])
def test_is_disabled(values, disabled):
    assert lmk.is_disabled(values) is disabled


# -- persistence ---------------------------------------------------------------

P = '/sys/module/lowmemorykiller/parameters'
VALUES = {'minfree': [1], 'adj': [9999], 'cost': 32}


def test_render_tmpfiles():
    text = lmk.render_persistence('tmpfiles', P, VALUES)
    assert text.splitlines()[2:] == ['w %s/adj - - - - 9999' % P, 'w %s/minfree - - - - 1' % P, 'w %s/cost - - - - 32' % P]
    assert text.startswith('# Managed by lowmem.hardening')


def test_render_sysfsutils():
    lines = lmk.render_persistence('sysfsutils', P, VALUES).splitlines()
    assert lines[2:] == ['module/lowmemorykiller/parameters/adj = 9999', 'module/lowmemorykiller/parameters/minfree = 1',
                         'module/lowmemorykiller/parameters/cost = 32']


def test_render_sysfsutils_needs_sys():
    with pytest.raises(ParamError, match='^persist: sysfsutils'):
        lmk.render_persistence('sysfsutils', '/srv/fake', VALUES)


def test_render_openrc_is_a_script():
    lines = lmk.render_persistence('openrc', P, {'adj': [0, 58], 'minfree': [1, 2]}).splitlines()
    assert lines[0] == '#!/bin/sh'
    assert lines[3:] == ['echo 0,58 > %s/adj' % P, 'echo 1,2 > %s/minfree' % P]


def test_render_cron_reboot_lines():
    lines = lmk.render_persistence('cron', '/srv/fake', {'adj': [9999], 'minfree': [1]}).splitlines()
    assert 'SHELL=/bin/sh' in lines
    assert lines[-2:] == ['@reboot root echo 9999 > /srv/fake/adj', '@reboot root echo 1 > /srv/fake/minfree']


@pytest.mark.parametrize('requested, systemd, openrc, cron, method', [
    ('auto', True, True, True, 'tmpfiles'),
    ('auto', False, True, True, 'openrc'),
    ('auto', False, False, True, 'cron'),
    ('sysfsutils', True, False, False, 'sysfsutils'),
])
def test_choose_persist_method(requested, systemd, openrc, cron, method):
    assert lmk.choose_persist_method(requested, systemd, openrc, cron) == method


def test_choose_persist_method_fails_clearly():
    with pytest.raises(ParamError, match='^persist: auto found no boot-time mechanism'):
        lmk.choose_persist_method('auto', False, False, False)


def test_persisted_names_keep_the_table_and_history():
    assert lmk.persisted_names({'cost': 3}, ['debug_level'], DEFAULTS) == ['adj', 'minfree', 'cost', 'debug_level']
    assert lmk.persisted_names({}, ['gone'], DEFAULTS) == ['adj', 'minfree']


@pytest.mark.parametrize('path', ['relative/dir', '/sys/x y', '/sys/a;b', '/sys/$(x)', '/a/../b', '/a//b', "/a'b", '/a\nb'])
def test_check_path_rejects_unsafe_paths(path):
    with pytest.raises(ParamError, match='^path:'):
        lmk.check_path(path)


def test_check_path_strips_trailing_slash():
    assert lmk.check_path(P + '/') == P
