# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A --check run on fresh hosts changes nothing and predicts exactly what the real run then changes."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

import yaml

ROLE = 'lowmem.hardening.lowmem : '
MODULES = ('lowmem.hardening.lowmemorykiller', 'lowmem.hardening.swapfile', 'lowmem.hardening.sysctl')
# What Ansible adds to the result of a module that names an existing file (AnsibleModule's path
# information); in check mode the swap file does not exist yet, so these cannot be predicted.
PATH_INFO = frozenset(['uid', 'gid', 'owner', 'group', 'mode', 'state'])
SNAPSHOTS = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'snapshots')


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def _name(host):
    return host.backend.get_hostname()


def _snapshot(host, label):
    with open(os.path.join(SNAPSHOTS, '%s-%s.txt' % (label, _name(host)))) as f:
        return f.read().splitlines()


def _role_runs(host):
    """[(check_mode, [record])] of the role's runs on host since the containers were created, in order."""
    runs = []
    with open(os.environ['LOWMEM_TEST_RESULTS']) as f:
        for line in f:
            record = json.loads(line)
            if record['playbook'] == 'create.yml':
                runs = []
            elif record['task'].startswith(ROLE) and record['host'] == _name(host):
                if not runs or runs[-1][0] != record['run']:
                    runs.append((record['run'], record['check_mode'], []))
                runs[-1][2].append(record)
    return [(check_mode, records) for dummy, check_mode, records in runs]


def _check_and_real_runs(host):
    runs = _role_runs(host)
    assert [check_mode for check_mode, dummy in runs][:2] == [True, False], \
        'expected the check run, then the converge: %s' % [check_mode for check_mode, dummy in runs]
    return runs[0][1], runs[1][1]


def _changed(records):
    return [r['task'] for r in records if r['changed']]


def test_the_check_run_changed_nothing(host):
    fresh, after_check = _snapshot(host, 'fresh'), _snapshot(host, 'after-check')
    assert after_check == fresh


def test_the_snapshot_sees_what_the_real_run_changed(host):
    fresh, converged = _snapshot(host, 'fresh'), _snapshot(host, 'converged')
    assert '/sys/module/lowmemorykiller/parameters/adj = 0,1,6,12' in fresh
    assert '/sys/module/lowmemorykiller/parameters/adj = 9999' in converged
    new = set(converged) - set(fresh)
    for path in ('/etc/fstab', '/etc/sysctl.d/60-lowmem-hardening.conf', '/mnt/disk/swapfile',
                 '/var/lib/lowmem-hardening/lowmemorykiller.json'):
        assert any(line.endswith('  ' + path) for line in new), path  # a new sha256 line


def test_the_check_run_reports_the_tasks_the_real_run_changes(host):
    check, real = _check_and_real_runs(host)
    assert not [r for r in check + real if r['status'] == 'failed']
    assert _changed(check) == _changed(real)
    changed_actions = set(r['action'] for r in real if r['changed'])
    assert changed_actions == set(MODULES)


def test_each_module_predicted_its_result(host):
    check, real = _check_and_real_runs(host)
    predicted = dict((r['task'], r) for r in check if r['action'] in MODULES)
    done = dict((r['task'], r) for r in real if r['action'] in MODULES)
    assert sorted(predicted) == sorted(done) and len(done) == len(MODULES)
    for task, record in done.items():
        guess = predicted[task]['result']
        result = dict(record['result'])
        if 'msg' in result:
            result['msg'] = result['msg'].replace('Changed: ', 'Would change: ', 1)
        assert set(result) - set(guess) <= PATH_INFO, task
        assert dict((k, v) for k, v in result.items() if k in guess) == guess, task
