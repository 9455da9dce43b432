# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin fleet_report: its helpers, and the role's tasks/fleet_report.yml run by ansible-playbook
over local hosts that stand in for a fleet (one unreachable through ssh to a closed port, one failing a step,
one without the report's log reading), with and without serial and --limit.

The playbook tests copy the collection this file sits in (four directories up) to a temporary
ansible_collections/lowmem/hardening; they need `ansible-playbook` (on PATH or beside the running Python) and
`ssh`, and skip without them.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from ansible_collections.lowmem.hardening.plugins.plugin_utils import fleet_report as model

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
COPIED = ('galaxy.yml', 'meta', 'plugins', 'roles')


# --- write_atomically, in a process of its own ------------------------------------------------------
# Importing the action plugin imports ansible.errors, which turns module_utils' warnings into the
# controller's for the rest of the process: the module tests of this pytest run would then see none.

WRITER = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.lowmem.hardening.plugins.action import fleet_report as action
directory, case = sys.argv[2], sys.argv[3]
if case == 'umask':
    os.umask(0o077)
    action.write_atomically(directory, 'lowmem-report.md', u'# r\\u00e9port\\n')
elif case == 'replace':
    action.write_atomically(directory, 'a.json', '1')
    inode = os.stat(os.path.join(directory, 'a.json')).st_ino
    action.write_atomically(directory, 'a.json', '2')
    print(json.dumps(inode != os.stat(os.path.join(directory, 'a.json')).st_ino))
elif case == 'refused':
    action.write_atomically(directory, 'a.json', '2')
    def refuse(source, target):
        raise OSError(28, 'No space left on device')
    action.os.replace = refuse
    try:
        action.write_atomically(directory, 'a.json', '3')
    except OSError as exc:
        print(json.dumps(str(exc)))
"""


# Where this collection is imported from: the directory holding ansible_collections/lowmem/hardening.
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(model.__file__), *['..'] * 5))


def write(tmp_path, case):
    collections = COLLECTIONS
    proc = subprocess.run([sys.executable, '-c', WRITER, collections, str(tmp_path), case], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def test_write_atomically_leaves_only_the_file_mode_0644(tmp_path):
    write(tmp_path, 'umask')
    assert os.listdir(str(tmp_path)) == ['lowmem-report.md']
    assert stat.S_IMODE(os.stat(str(tmp_path / 'lowmem-report.md')).st_mode) == 0o644
    assert (tmp_path / 'lowmem-report.md').read_bytes() == u'# r\u00e9port\n'.encode('utf-8')


def test_write_atomically_renames_a_new_file_onto_the_old(tmp_path):
    assert write(tmp_path, 'replace') is True
    assert (tmp_path / 'a.json').read_text() == '2' and os.listdir(str(tmp_path)) == ['a.json']


def test_write_atomically_removes_its_temporary_when_the_rename_fails(tmp_path):
    assert 'No space left on device' in write(tmp_path, 'refused')
    assert os.listdir(str(tmp_path)) == ['a.json'] and (tmp_path / 'a.json').read_text() == '2'


# --- the role's task under ansible-playbook -----------------------------------------------------------

def find(name):
    found = shutil.which(name)
    if found:
        return found
    beside_python = os.path.join(os.path.dirname(sys.executable), name)
    return beside_python if os.access(beside_python, os.X_OK) else None


ANSIBLE_PLAYBOOK = find('ansible-playbook')
needs_tools = pytest.mark.skipif(ANSIBLE_PLAYBOOK is None or shutil.which('ssh') is None,
                                 reason='needs ansible-playbook and ssh')

MIB = 1024 * 1024
TABLE = [{'minfree_pages': 16384, 'minfree_bytes': 64 * MIB, 'minfree_mib': 64.0, 'minfree_percent': 12.5, 'adj': 12}]
KILL = {'time': 'Mar 14 06:25:01', 'killer': 'lowmemorykiller', 'pid': 17651, 'comm': 'site-build', 'adj': 0,
        'rss_kb': 1, 'signal': 'SIGKILL', 'cgroup': None, 'source': '/var/log/kern.log', 'lines': []}


ZRAM = {'changed': False, 'method': 'generator', 'device': '/dev/zram0', 'size': 235 * MIB, 'algorithm': 'zstd',
        'priority': 100, 'active': True, 'recreated': False, 'files': [],
        'stats': {'orig_data_size': 3 * MIB, 'compr_data_size': MIB, 'mem_used_total': 2 * MIB, 'ratio': 3.0}}


def fake_result(kills=0, report=True, zram=None):
    """A lowmem_result as the role publishes it (with zram's result when given)."""
    result = {'lowmemorykiller': {'changed': False, 'present': True, 'disabled': False, 'thresholds': TABLE,
                                  'mem_total_bytes': 512 * MIB, 'persist': {'method': None}},
              'swapfile': {'changed': False, 'path': '/swapfile', 'size': 64 * MIB, 'active': False, 'fstab': None}}
    if report:
        result['lowmemorykiller_info'] = {'changed': False, 'lowmemorykiller': {
            'present': True, 'disabled': False, 'thresholds': TABLE, 'params': {},
            'memory': {'mem_total_bytes': 512 * MIB}, 'findings': [
                {'severity': 'warning', 'code': 'kills_found', 'message': 'kills'}] if kills else [],
            'kills': [KILL] if kills else [], 'kill_thresholds': [None] if kills else [],
            'kills_by_killer': {'lowmemorykiller': {'count': kills, 'newest': KILL, 'newest_timestamp': 1.0}}
            if kills else {}}}
    if zram is not None:
        result['zram'] = zram
    return result


# Inventory order matters for serial 2: [ok, unreachable], [failed, kills], [skipped].
INVENTORY = '''[fleet]
ok
unreachable ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_common_args='-o ConnectTimeout=5'
failed
kills
skipped lowmem_report=false

[fleet:vars]
ansible_connection=local
'''

# Stands in for the role's steps: what each registers, then lowmem_result, then the role's own fleet report task.
PLAYBOOK = '''
- name: A fleet
  hosts: fleet
  gather_facts: false
  serial: "{{ batch | default(0) }}"
  vars:
    lowmem_fleet_report_dir: "{{ playbook_dir }}/report"
  tasks:
    - name: Like the role's first call, which reaches the host
      ansible.builtin.ping:
      register: __lowmem_lmk_result

    - name: Like a step that fails on one host
      ansible.builtin.fail:
        msg: swap file refused
      register: __lowmem_swapfile_result
      when: inventory_hostname == 'failed'

    - name: Publish lowmem_result
      ansible.builtin.set_fact:
        lowmem_result: "{{ fake_results[inventory_hostname] }}"

    - name: The role's fleet report
      ansible.builtin.include_role:
        name: lowmem.hardening.lowmem
        tasks_from: fleet_report

    - name: Keep each batch's report
      ansible.builtin.copy:
        src: "{{ lowmem_fleet_report_dir }}/lowmem-report.json"
        dest: "{{ lowmem_fleet_report_dir }}/after-{{ ansible_play_batch | first }}.json"
        mode: "0644"
      run_once: true
      when: lowmem_fleet_report | default(true) | bool
'''


@pytest.fixture()
def workdir(tmp_path):
    target = tmp_path / 'collections' / 'ansible_collections' / 'lowmem' / 'hardening'
    for name in COPIED:
        source = os.path.join(COLLECTION_ROOT, name)
        if os.path.isdir(source):
            shutil.copytree(source, str(target / name), ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        elif os.path.exists(source):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, str(target / name))
    (tmp_path / 'inventory.ini').write_text(INVENTORY)
    (tmp_path / 'play.yml').write_text(PLAYBOOK)
    results = {'ok': fake_result(), 'unreachable': fake_result(), 'failed': fake_result(),
               'kills': fake_result(kills=3, zram=ZRAM), 'skipped': fake_result(report=False)}
    (tmp_path / 'vars.json').write_text(json.dumps({'fake_results': results}))
    return tmp_path


def run(workdir, *args):
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith('ANSIBLE_'))
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(workdir / 'collections'),
        ANSIBLE_HOME=str(workdir / 'ansible-home'),
        ANSIBLE_LOCAL_TEMP=str(workdir / 'ansible-home' / 'tmp'),
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_RETRY_FILES_ENABLED='0',
        ANSIBLE_HOST_KEY_CHECKING='0',
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    argv = [ANSIBLE_PLAYBOOK, '-i', str(workdir / 'inventory.ini'), str(workdir / 'play.yml'),
            '-e', '@%s' % (workdir / 'vars.json')] + list(args)
    proc = subprocess.run(argv, cwd=str(workdir), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
    return proc.returncode, proc.stdout


def statuses(path):
    with open(str(path)) as handle:
        report = json.load(handle)
    return dict((host['name'], host['status']) for host in report['hosts']), report


@needs_tools
def test_every_host_is_listed_with_what_became_of_it(workdir):
    returncode, output = run(workdir)
    assert returncode == 4, output  # a host was unreachable (and one failed)
    found, report = statuses(workdir / 'report' / 'lowmem-report.json')
    assert found == {'ok': 'ok', 'unreachable': 'unreachable', 'failed': 'failed', 'kills': 'ok',
                     'skipped': 'report_skipped'}, output
    assert [host['name'] for host in report['hosts']] == ['ok', 'unreachable', 'failed', 'kills', 'skipped']
    hosts = dict((host['name'], host) for host in report['hosts'])
    assert hosts['failed']['detail'] == 'failed at swapfile: swap file refused'
    assert hosts['unreachable']['detail'].startswith('unreachable at lowmemorykiller: ')
    assert hosts['kills']['severity'] == 'kill' and hosts['kills']['kills']['total'] == 3
    assert report['complete'] is True and report['window'] == '30d'
    # zram where lowmem_result has it, and in the Markdown's row of that host
    assert hosts['kills']['zram']['algorithm'] == 'zstd' and hosts['kills']['zram']['stats']['ratio'] == 3.0
    assert hosts['ok']['zram'] is None
    with open(str(workdir / 'report' / 'lowmem-report.md')) as handle:
        rows = [line for line in handle.read().splitlines() if line.startswith('| kills |')]
    assert len(rows) == 1 and '| /dev/zram0 235 MiB zstd, priority 100, generator; 3:1 (3 MiB in 1 MiB) |' in rows[0]
    for name in ('lowmem-report.json', 'lowmem-report.md', 'lowmem-report.html'):
        assert stat.S_IMODE(os.stat(str(workdir / 'report' / name)).st_mode) == 0o644
    assert sorted(os.listdir(str(workdir / 'report'))) == [
        'after-ok.json', 'lowmem-report.html', 'lowmem-report.json', 'lowmem-report.md']


@needs_tools
def test_each_serial_batch_rewrites_the_report_and_the_last_is_complete(workdir):
    returncode, output = run(workdir, '-e', 'batch=2')
    assert returncode == 4, output
    after_first, first = statuses(workdir / 'report' / 'after-ok.json')
    assert after_first == {'ok': 'ok', 'unreachable': 'unreachable', 'failed': 'not_reached',
                           'kills': 'not_reached', 'skipped': 'not_reached'}
    assert first['complete'] is False
    after_second, _second = statuses(workdir / 'report' / 'after-kills.json')
    assert after_second == {'ok': 'ok', 'unreachable': 'unreachable', 'failed': 'failed', 'kills': 'ok',
                            'skipped': 'not_reached'}
    final, report = statuses(workdir / 'report' / 'lowmem-report.json')
    assert final == {'ok': 'ok', 'unreachable': 'unreachable', 'failed': 'failed', 'kills': 'ok',
                     'skipped': 'report_skipped'}
    assert report['complete'] is True


@needs_tools
def test_a_batch_of_unreachable_hosts_ends_the_play_and_leaves_the_previous_report(workdir):
    # serial 1: the batch [unreachable] fails whole, and Ansible ends a serial play there.
    returncode, output = run(workdir, '-e', 'batch=1')
    assert returncode == 4, output
    final, report = statuses(workdir / 'report' / 'lowmem-report.json')
    assert final == {'ok': 'ok', 'unreachable': 'not_reached', 'failed': 'not_reached', 'kills': 'not_reached',
                     'skipped': 'not_reached'}
    assert report['complete'] is False


@needs_tools
def test_limit_reports_the_limited_hosts_only(workdir):
    returncode, output = run(workdir, '--limit', 'ok,failed')
    assert returncode == 2, output
    found, report = statuses(workdir / 'report' / 'lowmem-report.json')
    assert found == {'ok': 'ok', 'failed': 'failed'}
    assert report['limit'] == 'ok,failed'


@needs_tools
def test_the_fleet_report_can_be_left_off(workdir):
    returncode, output = run(workdir, '-e', 'lowmem_fleet_report=false')
    assert returncode == 4, output
    assert not os.path.exists(str(workdir / 'report' / 'lowmem-report.json'))
