# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake sysfs against the real kernel: every write of the recorded table must be answered alike.

tests/unit/plugins/modules/fixtures/param_writes.json holds what the test bed's real kernel answered
(python3 tests/kernel/record_param_writes.py). Here the same probe that ran in its VMs
(tests/kernel/probe_param_writes.py --expect) runs against the mounted fake, through FUSE and
the fake's write path, with the parameter types the test bed's driver declares. Kernel messages
are not compared here: the fake logs none (the unit tests compare the model's).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(REPO, 'tests', 'unit', 'plugins', 'modules', 'fixtures', 'param_writes.json')
PROBE = os.path.join(REPO, 'tests', 'kernel', 'probe_param_writes.py')
DRIVER_PARAMS = ('adj', 'minfree', 'cost', 'debug_level')


@pytest.mark.parametrize('variant', ['plain', 'android'])
def test_the_fake_answers_every_recorded_write_as_the_kernel(mounted, variant):
    with open(FIXTURE) as f:
        recorded = json.load(f)
    options = ['--android'] if variant == 'android' else []
    for name in DRIVER_PARAMS:
        options += ['--type', '%s=%s' % (name, recorded['parmtype'][name].replace('array of ', ''))]
    fake = mounted(*options)
    probe = subprocess.run([sys.executable, PROBE, '--path', fake.path, '--no-kmsg', '--expect', variant],
                           input=json.dumps(recorded), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=300, check=False)
    assert probe.returncode == 0, probe.stderr
    assert len(json.loads(probe.stdout)['results']) == len(recorded['cases'])
