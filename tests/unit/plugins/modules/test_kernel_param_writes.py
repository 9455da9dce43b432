# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KernelModel against the real kernel: every write of param_write_cases.py must be answered alike.

fixtures/param_writes.json holds what Debian 12's 6.1 kernel with the test bed's driver answered
(tests/kernel; regenerate it with RECORD, as root, after changing the table or the driver). Here
the same probe that ran in the VM (tests/kernel/probe_param_writes.py) runs against KernelModel,
and each case must give the same errno, the same write(2) count, the same bytes read back from
every parameter and the same kernel messages. Where they differ, the kernel is right.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import importlib.util
import json
import os

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import lowmemorykiller as lmk
from ansible_collections.lowmem.hardening.tests.unit.plugins.modules import kernel_model
from ansible_collections.lowmem.hardening.tests.unit.plugins.modules.param_write_cases import CASES, RESTORE

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, 'fixtures', 'param_writes.json')
PROBE = os.path.join(HERE, '..', '..', '..', 'kernel', 'probe_param_writes.py')
RECORD = 'python3 tests/kernel/record_param_writes.py'
VARIANTS = ('plain', 'android')

with open(FIXTURE) as fixture_file:
    RECORDED = json.load(fixture_file)

# Where the test bed's driver declares another type than the staging driver it reproduces
# (DEFAULTS): {name: (test bed's parmtype, KernelModel's type)}. The model is run with the
# test bed's types; this list says which differences are known.
TEST_BED_TYPES = {'minfree': ('array of int', 'uint')}


def load_probe():
    spec = importlib.util.spec_from_file_location('probe_param_writes', PROBE)
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    return probe


def recorded_types():
    """{name: 'short'|'int'|'uint'} of the driver's parameters, from the recorded parmtype strings."""
    return dict((name, RECORDED['parmtype'][name].replace('array of ', '')) for name in kernel_model.DEFAULTS)


def run_on_model(directory, variant):
    """The probe's report for KernelModel, as for the VM of this variant."""
    probe = load_probe()
    model = kernel_model.KernelModel(directory, autodetect=variant == 'android', types=recorded_types())

    class ModelSysfs(probe.Sysfs):
        def write(self, name, data):
            return model.write(os.path.join(model.path, name), data)

    class ModelKmsg(object):
        def new_messages(self):
            messages = list(model.log)
            del model.log[:]
            return messages

    report = probe.run(ModelSysfs(model.path), RECORDED['restore'], RECORDED['cases'], ModelKmsg())
    report['results'] = dict((result['id'], result) for result in report['results'])
    return report


@pytest.fixture(scope='module')
def model_reports(tmp_path_factory):
    return dict((variant, run_on_model(str(tmp_path_factory.mktemp(variant)), variant)) for variant in VARIANTS)


def test_the_fixture_holds_this_table():
    assert RECORDED['restore'] == [list(write) for write in RESTORE], 'RESTORE changed: run %s' % RECORD
    assert [(case['id'], case['param'], case['data']) for case in RECORDED['cases']] == list(CASES), \
        'param_write_cases.CASES changed: run %s' % RECORD
    assert len(set(case[0] for case in CASES)) == len(CASES), 'case ids must be unique'
    for variant in VARIANTS:
        assert [result['id'] for result in RECORDED['variants'][variant]['results']] == [c[0] for c in CASES]


def test_the_model_declares_the_drivers_types_but_known_differences():
    for name, (shape, kind, dummy) in kernel_model.DEFAULTS.items():
        recorded = RECORDED['parmtype'][name]
        expected = ('array of ' if shape == 'array' else '') + kind
        if name in TEST_BED_TYPES:
            assert (recorded, kind) == TEST_BED_TYPES[name], \
                '%s: the test bed declares %s now; update TEST_BED_TYPES' % (name, recorded)
        else:
            assert recorded == expected, name


@pytest.mark.parametrize('variant', VARIANTS)
def test_boot_and_restored_values(model_reports, variant):
    recorded = RECORDED['variants'][variant]
    assert model_reports[variant]['boot'] == recorded['boot']
    assert model_reports[variant]['restored'] == recorded['restored']


@pytest.mark.parametrize('variant', VARIANTS)
@pytest.mark.parametrize('case_id, param, data', CASES, ids=[case[0] for case in CASES])
def test_model_answers_as_the_kernel(model_reports, variant, case_id, param, data):
    kernel = dict((result['id'], result) for result in RECORDED['variants'][variant]['results'])[case_id]
    model = model_reports[variant]['results'][case_id]
    for key in ('outcome', 'written', 'read', 'kmsg'):
        assert model[key] == kernel[key], '%s of %r to %s on %s: %s: kernel %r, model %r' % (
            case_id, data, param, variant, key, kernel[key], model[key])


def _answer(variant, case_id):
    result = dict((r['id'], r) for r in RECORDED['variants'][variant]['results'])[case_id]
    param = dict((c[0], c[1]) for c in CASES)[case_id]
    return result['outcome'], result['read'][param]


@pytest.mark.parametrize('variant', VARIANTS)
def test_what_the_kernel_said(variant):
    """The facts the module relies on, as recorded: readable here, checked against the model above."""
    assert _answer(variant, 'minfree-1-newline') == ('ok', '1\n')
    assert _answer(variant, 'adj-9999') == ('ok', '9999\n')
    # Out of range: ERANGE; not a number or a 7th element: EINVAL; earlier elements stay stored.
    assert _answer(variant, 'minfree-99999999999') == ('ERANGE', '')
    assert _answer(variant, 'adj-40000') == ('ERANGE', '')
    assert _answer(variant, 'minfree-second-99999999999') == ('ERANGE', '1\n')
    assert _answer(variant, 'minfree-7-elements') == ('EINVAL', '1,2,3,4,5,6\n')
    assert _answer(variant, 'minfree-empty-middle') == ('EINVAL', '1\n')
    assert _answer(variant, 'minfree-trailing-comma') == ('EINVAL', '1,2\n')
    # A failed first element leaves no entry at all, read back as 0 bytes: not even a newline.
    assert _answer(variant, 'minfree-leading-space') == ('EINVAL', '')
    assert _answer(variant, 'minfree-only-newline') == ('EINVAL', '')
    # A write of 0 bytes reaches no driver: nothing changes.
    assert _answer(variant, 'minfree-empty') == ('ok', '1536,2048,4096,16384\n')
    assert _answer(variant, 'minfree-plus-octal-hex') == ('ok', '7,8,16\n')
    assert _answer(variant, 'minfree-two-newlines') == ('EINVAL', '3\n')
    assert _answer(variant, 'debug-level-negative') == ('EINVAL', '1\n')
    kmsg = dict((r['id'], r['kmsg']) for r in RECORDED['variants'][variant]['results'])
    assert kmsg['minfree-7-elements'] == ['minfree: can only take 6 arguments']


def test_what_the_android_kernel_said():
    # Converted after the write, even a failed one.
    assert _answer('android', 'adj-4-elements-defaults') == ('ok', '0,58,352,705\n')
    assert _answer('android', 'adj-7-oom-adj-values') == ('EINVAL', '0,117,235,411,529,705\n')
    assert _answer('android', 'adj-1-then-abc') == ('EINVAL', '58\n')
    assert _answer('plain', 'adj-1-then-abc') == ('EINVAL', '1\n')


# -- what the module predicts --------------------------------------------------------------

def _adj_writes_the_module_may_make():
    """pytest params (variant, case id, values written, values shown) of the accepted adj writes that
    lowmemorykiller.py could make itself: at most 6 strictly ascending values within its limits."""
    low, high = lmk.LIMITS['adj']
    cases = dict((case[0], case) for case in CASES)
    found = []
    for variant in VARIANTS:
        for result in RECORDED['variants'][variant]['results']:
            dummy, param, data = cases[result['id']]
            if param != 'adj' or result['outcome'] != 'ok' or not result['written']:
                continue
            values = [kernel_model.kstrto(element, 'short') for element in data.split('\0')[0].split(',')]
            if len(values) > lmk.DEFAULT_MAX_ENTRIES or not all(low <= v <= high for v in values) \
                    or any(b <= a for a, b in zip(values, values[1:])):
                continue
            marks = ()
            if variant == 'android' and lmk.android_adj(values) != kernel_model.android_convert(values):
                marks = pytest.mark.xfail(strict=True, reason=(
                    'plugins/module_utils/lowmemorykiller.py android_adj() computes a*1000/17 without the '
                    "driver's short result: -1000 becomes 6713 in the kernel, -58823 in the prediction"))
            found.append(pytest.param(variant, result['id'], values, lmk.parse_kernel_array(result['read']['adj']),
                                      id='%s-%s' % (variant, result['id']), marks=marks))
    return found


@pytest.mark.parametrize('variant, case_id, written, shown', _adj_writes_the_module_may_make())
def test_the_module_predicts_the_adj_the_kernel_shows(variant, case_id, written, shown):
    # autodetect None: a first run, which does not know the kernel yet; True/False: what it learnt.
    assert shown in lmk.expected_readbacks('adj', written, None)
    assert shown == lmk.expected_readbacks('adj', written, variant == 'android')[0]
