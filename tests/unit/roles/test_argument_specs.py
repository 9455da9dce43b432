# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's meta/argument_specs.yml: consistent with defaults/main.yml and the README, and
enforced by ansible-playbook before any task runs.

The playbook tests copy the collection this file sits in (three directories up) to a temporary
ansible_collections/lowmem/hardening and point ANSIBLE_COLLECTIONS_PATH at it; they need
`ansible-playbook`, looked up on PATH and then beside the running Python, and skip without it.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ROLE = os.path.join(COLLECTION_ROOT, 'roles', 'lowmem')
# What the role needs at run time; tests/ and build output stay behind.
COPIED = ('galaxy.yml', 'meta', 'plugins', 'roles', 'playbooks')


def load(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


SPEC = load('meta', 'argument_specs.yml')['argument_specs']['main']['options']
DEFAULTS = load('defaults', 'main.yml')


def test_defaults_and_argument_specs_name_the_same_variables():
    assert sorted(DEFAULTS) == sorted(SPEC)


@pytest.mark.parametrize('name', sorted(SPEC))
def test_argument_spec_default_is_the_defaults_value(name):
    assert SPEC[name].get('default') == DEFAULTS[name]


@pytest.mark.parametrize('name', sorted(SPEC))
def test_argument_spec_documents_type_and_description(name):
    assert SPEC[name].get('type') in ('str', 'int', 'bool', 'list', 'dict', 'path', 'raw')
    assert SPEC[name].get('description')
    if SPEC[name]['type'] == 'list':
        assert SPEC[name].get('elements')


def test_every_default_has_a_comment_right_above_it():
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        lines = handle.read().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r'^(lowmem_\w+):', line)
        if match:
            assert lines[index - 1].startswith('#'), '%s has no comment above it' % match.group(1)


def test_readme_lists_every_variable():
    with open(os.path.join(ROLE, 'README.md')) as handle:
        readme = handle.read()
    missing = [name for name in SPEC if '| `%s` |' % name not in readme]
    assert missing == []


# --- ansible-playbook enforces the specs ---------------------------------------------

def find_ansible_playbook():
    found = shutil.which('ansible-playbook')
    if found:
        return found
    beside_python = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    return beside_python if os.access(beside_python, os.X_OK) else None


ANSIBLE_PLAYBOOK = find_ansible_playbook()
needs_ansible_playbook = pytest.mark.skipif(ANSIBLE_PLAYBOOK is None,
                                            reason='ansible-playbook is neither on PATH nor beside %s' % sys.executable)

PLAYBOOK = '''
- name: Validate the role's variables only
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: lowmem.hardening.lowmem
'''


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
    """A copy of the collection, a playbook using the role by FQCN, and an isolated ANSIBLE_HOME."""
    root = tmp_path_factory.mktemp('argspec')
    target = root / 'collections' / 'ansible_collections' / 'lowmem' / 'hardening'
    for name in COPIED:
        source = os.path.join(COLLECTION_ROOT, name)
        if os.path.isdir(source):
            shutil.copytree(source, str(target / name), ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        elif os.path.exists(source):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, str(target / name))
    (root / 'play.yml').write_text(PLAYBOOK)
    return root


def run_playbook(workdir, extra_vars, name):
    vars_file = workdir / ('%s.json' % name)
    vars_file.write_text(json.dumps(extra_vars))
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith('ANSIBLE_'))
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(workdir / 'collections'),
        ANSIBLE_HOME=str(workdir / 'ansible-home'),
        ANSIBLE_LOCAL_TEMP=str(workdir / 'ansible-home' / 'tmp'),
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_RETRY_FILES_ENABLED='0',
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    # No task but the spec check (tagged always) can run: --tags names a tag nothing has.
    argv = [ANSIBLE_PLAYBOOK, '-i', 'localhost,', str(workdir / 'play.yml'),
            '-e', '@%s' % vars_file, '--tags', 'lowmem_argument_specs_only']
    proc = subprocess.run(argv, cwd=str(workdir), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
    return proc.returncode, proc.stdout


@needs_ansible_playbook
@pytest.mark.parametrize('name, extra_vars', [
    ('defaults', {}),
    ('valid', {
        'lowmem_lmk_state': 'present',
        'lowmem_lmk_minfree': [1536, '64M', '12.5%'],
        'lowmem_lmk_adj': [0, 100, 900],
        'lowmem_lmk_persist': 'none',
        'lowmem_swapfile_size': 1073741824,  # bytes as an int; the spec's str takes it
        'lowmem_swapfile_priority': 0,
        'lowmem_swapfile_active': False,
        'lowmem_sysctl': {},
        'lowmem_hosts': 'boards',
        'lowmem_report': False,
        'lowmem_report_since': '2026-11-01',
        'lowmem_fleet_report': False,
        'lowmem_fleet_report_dir': '/srv/reports/lowmem',
        'lowmem_zram_state': 'present',
        'lowmem_zram_size': '256M',
        'lowmem_zram_algorithm': 'lz4',
        'lowmem_zram_priority': 0,
        'lowmem_zram_method': 'unit',
        'lowmem_zram_install_generator': False,
        'lowmem_zram_generator_package': 'zram-generator',
    }),
    ('zram', {
        'lowmem_zram_state': 'absent',
        'lowmem_zram_size': 268435456,  # bytes as an int (raw)
        'lowmem_zram_algorithm': '',  # the kernel's default (2.16 refuses null for a str)
        'lowmem_zram_priority': 32767,
        'lowmem_zram_method': 'generator',
    }),
])
def test_valid_variables_pass_validation(workdir, name, extra_vars):
    returncode, output = run_playbook(workdir, extra_vars, name)
    assert returncode == 0, output
    assert "Validating arguments against arg spec 'main'" in output
    assert 'ok: [localhost]' in output


@needs_ansible_playbook
@pytest.mark.parametrize('variable, value, fragment', [
    ('lowmem_lmk_state', 'bogus', 'disabled, present, restored, ignore'),
    ('lowmem_lmk_minfree', {'a': 1}, 'list'),
    ('lowmem_lmk_adj', 'x', 'int'),
    ('lowmem_lmk_adj', [0, 'high'], 'int'),
    ('lowmem_lmk_persist', 'systemd', 'auto, tmpfiles, sysfsutils, openrc, cron, none'),
    ('lowmem_swapfile_state', 'gone', 'present, absent, ignore'),
    ('lowmem_swapfile_priority', 'high', 'int'),
    ('lowmem_swapfile_active', 'maybe', 'bool'),
    ('lowmem_sysctl', [1], 'dict'),
    ('lowmem_report', 'perhaps', 'bool'),
    ('lowmem_fleet_report', 'perhaps', 'bool'),
    ('lowmem_zram_state', 'disabled', 'present, absent, ignore'),
    ('lowmem_zram_state', None, 'present, absent, ignore'),
    ('lowmem_zram_priority', 'high', 'int'),
    ('lowmem_zram_method', 'zramctl', 'auto, generator, unit'),
    ('lowmem_zram_install_generator', 'perhaps', 'bool'),
])
def test_bad_variable_fails_validation_naming_it(workdir, variable, value, fragment):
    returncode, output = run_playbook(workdir, {variable: value}, variable)
    assert returncode != 0
    failures = [line for line in output.splitlines() if line.startswith('fatal: [localhost]: FAILED! => ')]
    assert len(failures) == 1, output
    result = json.loads(failures[0].split(' => ', 1)[1])
    assert result['validate_args_context']['name'] == 'lowmem'
    # one error, or for null two on ansible-core 2.16 (it cannot convert None to str, then the choices)
    assert 1 <= len(result['argument_errors']) <= (2 if value is None else 1), result['argument_errors']
    assert all(variable in error for error in result['argument_errors'])
    assert any(fragment in error for error in result['argument_errors'])
