# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import errno
import os
import pwd
import shutil
import stat
import tempfile

import pytest

from ansible.module_utils import basic

from ansible_collections.lowmem.hardening.plugins.module_utils.sysctl import HEADER
from ansible_collections.lowmem.hardening.plugins.modules import sysctl as sysctl_module
from ansible_collections.lowmem.hardening.tests.unit.plugins.modules.utils import run_module

# The module chowns its file to root and refuses to run otherwise; so do its tests.
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='lowmem.hardening.sysctl runs as root only')

KERNEL = {
    'vm/swappiness': '60\n',
    'vm/vfs_cache_pressure': '100\n',
    'net/ipv4/ip_local_port_range': '32768\t60999\n',
}
WANTED = {'vm.swappiness': 10, 'vm.vfs_cache_pressure': 50}


def make_proc(root):
    for rel, text in KERNEL.items():
        path = os.path.join(root, rel)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, 'w') as proc_file:
            proc_file.write(text)


def read(path):
    with open(path) as handle:
        return handle.read()


def tree(root):
    """Every file and directory under root with its content and mode: a host 'snapshot'."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, root)] = ('dir', stat.S_IMODE(os.stat(path).st_mode))
        for name in filenames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, root)] = (read(path), stat.S_IMODE(os.stat(path).st_mode))
    return found


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake /proc/sys and /etc/sysctl.d in tmp_path; returns a namespace of paths."""
    proc = str(tmp_path / 'proc_sys')
    make_proc(proc)
    os.makedirs(str(tmp_path / 'etc' / 'sysctl.d'))
    monkeypatch.setattr(sysctl_module, 'PROC_SYS', proc)

    class Host(object):
        root = str(tmp_path)
        proc_sys = proc
        conf = str(tmp_path / 'etc' / 'sysctl.d' / '60-lowmem-hardening.conf')

        @staticmethod
        def kernel(rel):
            return read(os.path.join(proc, rel))
    return Host


def run(host, monkeypatch, check_mode=False, diff=False, **args):
    args.setdefault('file', host.conf)
    return run_module(sysctl_module.main, args, check_mode=check_mode, diff=diff, monkeypatch=monkeypatch)


EXPECTED_FILE = HEADER + 'vm.swappiness = 10\nvm.vfs_cache_pressure = 50\n'


def test_first_run_applies_and_persists(host, monkeypatch):
    result = run(host, monkeypatch, values=WANTED)
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert result['file_changed'] is True
    assert result['changed_runtime'] == ['vm.swappiness', 'vm.vfs_cache_pressure']
    assert result['not_applied'] == []
    assert result['values'] == {'vm.swappiness': '10', 'vm.vfs_cache_pressure': '50'}
    assert result['runtime'] == {'vm.swappiness': '10', 'vm.vfs_cache_pressure': '50'}
    assert result['file'] == host.conf
    assert host.kernel('vm/swappiness') == '10\n'
    assert host.kernel('vm/vfs_cache_pressure') == '50\n'
    assert read(host.conf) == EXPECTED_FILE
    st = os.stat(host.conf)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)
    assert os.listdir(os.path.dirname(host.conf)) == ['60-lowmem-hardening.conf']


def test_second_run_changes_nothing(host, monkeypatch):
    assert run(host, monkeypatch, values=WANTED)['changed'] is True
    inode = os.stat(host.conf).st_ino
    before = tree(host.root)
    result = run(host, monkeypatch, values=WANTED)
    assert result['changed'] is False
    assert result['file_changed'] is False
    assert result['changed_runtime'] == []
    assert result['warnings'] == []
    assert os.stat(host.conf).st_ino == inode
    assert tree(host.root) == before


def test_range_value_compared_after_splitting(host, monkeypatch):
    result = run(host, monkeypatch, values={'net.ipv4.ip_local_port_range': '32768   60999'})
    assert result['changed_runtime'] == []
    assert result['runtime'] == {'net.ipv4.ip_local_port_range': '32768 60999'}
    assert host.kernel('net/ipv4/ip_local_port_range') == '32768\t60999\n'
    assert read(host.conf).endswith('net.ipv4.ip_local_port_range = 32768 60999\n')

    result = run(host, monkeypatch, values={'net.ipv4.ip_local_port_range': '1024 65000'})
    assert result['changed_runtime'] == ['net.ipv4.ip_local_port_range']
    assert host.kernel('net/ipv4/ip_local_port_range') == '1024 65000\n'
    assert run(host, monkeypatch, values={'net.ipv4.ip_local_port_range': '1024\t65000'})['changed'] is False


def test_check_mode_predicts_and_writes_nothing(host, monkeypatch):
    before = tree(host.root)
    result = run(host, monkeypatch, check_mode=True, values=WANTED)
    assert result['changed'] is True
    assert result['file_changed'] is True
    assert result['changed_runtime'] == ['vm.swappiness', 'vm.vfs_cache_pressure']
    assert result['runtime'] == {'vm.swappiness': '10', 'vm.vfs_cache_pressure': '50'}
    assert tree(host.root) == before

    run(host, monkeypatch, values=WANTED)
    result = run(host, monkeypatch, check_mode=True, values=WANTED)
    assert result['changed'] is False
    assert result['changed_runtime'] == []


def test_check_mode_predicts_not_applied_where_proc_sys_is_not_writable(host, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(sysctl_module.os, 'access',
                        lambda path, mode: False if path.startswith(host.proc_sys) else real_access(path, mode))
    result = run(host, monkeypatch, check_mode=True, values=WANTED)
    assert result['changed'] is True
    assert result['file_changed'] is True
    assert result['changed_runtime'] == []
    assert result['not_applied'] == ['vm.swappiness', 'vm.vfs_cache_pressure']
    assert result['runtime'] == {'vm.swappiness': '60', 'vm.vfs_cache_pressure': '100'}
    assert not os.path.exists(host.conf)


def test_diff_shows_file_and_runtime(host, monkeypatch):
    with open(host.conf, 'w') as conf:
        conf.write('vm.swappiness = 1\n')
    result = run(host, monkeypatch, diff=True, values=WANTED)
    file_diff, runtime_diff = result['diff']
    assert file_diff['before_header'] == host.conf
    assert file_diff['before'] == 'vm.swappiness = 1\n'
    assert file_diff['after'] == EXPECTED_FILE
    assert runtime_diff['before'] == 'vm.swappiness = 60\nvm.vfs_cache_pressure = 100\n'
    assert runtime_diff['after'] == 'vm.swappiness = 10\nvm.vfs_cache_pressure = 50\n'

    result = run(host, monkeypatch, check_mode=True, diff=True, values=WANTED)
    file_diff, runtime_diff = result['diff']
    assert file_diff['before'] == file_diff['after'] == EXPECTED_FILE
    assert runtime_diff['before'] == runtime_diff['after']


def test_wrong_mode_or_owner_is_fixed(host, monkeypatch):
    with open(host.conf, 'w') as conf:
        conf.write(EXPECTED_FILE)
    os.chmod(host.conf, 0o600)
    os.chown(host.conf, 1000, 1000)
    result = run(host, monkeypatch, values=WANTED)
    assert result['file_changed'] is True
    st = os.stat(host.conf)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)
    assert run(host, monkeypatch, values=WANTED)['changed'] is False


def test_missing_sysctl_d_directory_is_created(host, monkeypatch):
    conf = os.path.join(host.root, 'etc', 'new.d', 'x.conf')
    result = run(host, monkeypatch, values=WANTED, file=conf)
    assert result['file_changed'] is True
    assert stat.S_IMODE(os.stat(os.path.dirname(conf)).st_mode) == 0o755
    assert read(conf) == EXPECTED_FILE


@pytest.mark.parametrize('err', [errno.EROFS, errno.EACCES, errno.EPERM])
def test_read_only_runtime_writes_file_and_warns(host, monkeypatch, err):
    def refuse(name, value):
        raise OSError(err, os.strerror(err), sysctl_module.proc_path(name))
    monkeypatch.setattr(sysctl_module, 'write_runtime', refuse)

    result = run(host, monkeypatch, values=WANTED)
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert result['file_changed'] is True
    assert result['changed_runtime'] == []
    assert result['not_applied'] == ['vm.swappiness', 'vm.vfs_cache_pressure']
    assert result['runtime'] == {'vm.swappiness': '60', 'vm.vfs_cache_pressure': '100'}
    assert len(result['warnings']) == 1
    assert 'vm.swappiness, vm.vfs_cache_pressure' in result['warnings'][0]
    assert host.conf in result['warnings'][0]
    assert read(host.conf) == EXPECTED_FILE
    assert host.kernel('vm/swappiness') == '60\n'

    # Nothing more can change: not changed, still said.
    result = run(host, monkeypatch, values=WANTED)
    assert result['changed'] is False
    assert result['not_applied'] == ['vm.swappiness', 'vm.vfs_cache_pressure']
    assert len(result['warnings']) == 1


@pytest.fixture
def traversable_proc(monkeypatch):
    """A fake /proc/sys that the unprivileged user can reach (pytest's tmp_path is root-only)."""
    root = tempfile.mkdtemp(prefix='lowmem-sysctl-proc-')
    os.chmod(root, 0o755)
    make_proc(root)
    monkeypatch.setattr(sysctl_module, 'PROC_SYS', root)
    yield root
    shutil.rmtree(root)


@pytest.mark.parametrize('mode, applied', [(0o444, False), (0o644, True)])
def test_file_mode_refusing_the_runtime_write(tmp_path, monkeypatch, traversable_proc, mode, applied):
    """A 0444 sysctl file refuses the write for real: root bypasses file modes, so the write runs as nobody."""
    nobody = pwd.getpwnam('nobody').pw_uid
    path = os.path.join(traversable_proc, 'vm', 'swappiness')
    os.chown(path, nobody, -1)
    os.chmod(path, mode)
    real_write = sysctl_module.write_runtime

    def write_as_nobody(name, value):
        os.seteuid(nobody)
        try:
            return real_write(name, value)
        finally:
            os.seteuid(0)
    monkeypatch.setattr(sysctl_module, 'write_runtime', write_as_nobody)

    conf = str(tmp_path / '60-lowmem-hardening.conf')
    result = run_module(sysctl_module.main, {'values': {'vm.swappiness': 10}, 'file': conf}, monkeypatch=monkeypatch)
    assert not result.get('failed'), result
    assert read(conf).endswith('vm.swappiness = 10\n')
    if applied:
        assert result['changed_runtime'] == ['vm.swappiness']
        assert result['not_applied'] == []
        assert read(path) == '10\n'
    else:
        assert result['changed_runtime'] == []
        assert result['not_applied'] == ['vm.swappiness']
        assert 'vm.swappiness' in result['warnings'][0]
        assert read(path) == '60\n'


def test_kernel_refusal_restores_and_fails(host, monkeypatch):
    real_write = sysctl_module.write_runtime

    def refuse_second(name, value):
        if name == 'vm.vfs_cache_pressure' and value == '50':
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_write(name, value)
    monkeypatch.setattr(sysctl_module, 'write_runtime', refuse_second)
    before = tree(host.root)
    result = run(host, monkeypatch, values=WANTED)
    assert result['failed'] is True
    assert 'values' in result['msg'] and 'vm.vfs_cache_pressure = 50' in result['msg']
    assert 'restored' in result['msg']
    assert tree(host.root) == before


def test_read_back_mismatch_restores_and_fails(host, monkeypatch):
    real_write = sysctl_module.write_runtime

    def kernel_parses_hex(name, value):
        return real_write(name, str(int(value, 0)))
    monkeypatch.setattr(sysctl_module, 'write_runtime', kernel_parses_hex)
    before = tree(host.root)
    result = run(host, monkeypatch, values={'vm.vfs_cache_pressure': 50, 'vm.swappiness': '0x10'})
    assert result['failed'] is True
    assert 'vm.swappiness = 0x10' in result['msg'] and 'shows 16' in result['msg']
    assert tree(host.root) == before


def test_file_write_failure_restores_runtime(host, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(tempfile, 'mkstemp', no_space)
    before = tree(host.root)
    result = run(host, monkeypatch, values=WANTED)
    assert result['failed'] is True
    assert result['msg'].startswith('file: cannot write %s' % host.conf)
    assert tree(host.root) == before


def test_atomic_move_failure_restores_runtime(host, monkeypatch):
    def failing_move(self, src, dest, *args, **kwargs):
        self.fail_json(msg='Could not replace file: %s to %s' % (src, dest))
    monkeypatch.setattr(basic.AnsibleModule, 'atomic_move', failing_move)
    before = tree(host.root)
    result = run(host, monkeypatch, values=WANTED)
    assert result['failed'] is True
    assert tree(host.root) == before  # runtime restored, temp file removed


def test_absent_removes_file_and_keeps_runtime(host, monkeypatch):
    run(host, monkeypatch, values=WANTED)
    result = run(host, monkeypatch, state='absent', check_mode=True, diff=True)
    assert result['changed'] is True and result['file_changed'] is True
    assert result['diff']['before'] == EXPECTED_FILE and result['diff']['after'] == ''
    assert os.path.exists(host.conf)

    result = run(host, monkeypatch, state='absent')
    assert result['changed'] is True
    assert result['values'] == {} and result['runtime'] == {}
    assert not os.path.exists(host.conf)
    assert host.kernel('vm/swappiness') == '10\n'

    assert run(host, monkeypatch, state='absent')['changed'] is False


def test_apply_false_only_writes_the_file(host, monkeypatch):
    result = run(host, monkeypatch, apply=False, values={'vm.swappiness': 10, 'net.bridge.bridge-nf-call-iptables': 1})
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert result['changed_runtime'] == []
    assert result['runtime'] == {'vm.swappiness': '60'}
    assert host.kernel('vm/swappiness') == '60\n'
    assert read(host.conf).endswith('vm.swappiness = 10\nnet.bridge.bridge-nf-call-iptables = 1\n')


def test_not_root_fails_before_touching_anything(host, monkeypatch):
    monkeypatch.setattr(sysctl_module.os, 'geteuid', lambda: 1000)
    before = tree(host.root)
    result = run(host, monkeypatch, values=WANTED)
    assert result['failed'] is True
    assert 'become: true' in result['msg']
    assert tree(host.root) == before


@pytest.mark.parametrize('args, parameter, fragment', [
    ({'values': {'vm.nonexistent': 1}}, 'values', 'vm.nonexistent'),
    ({'values': {'vm.swappiness': 10, 'vm.nonexistent': 1}}, 'values', 'vm.nonexistent'),
    ({'values': {'net.ipv4': 1}}, 'values', 'net.ipv4'),
    ({'values': {'VM.Swappiness': 1}}, 'values', 'VM.Swappiness'),
    ({'values': {'vm/swappiness': 1}}, 'values', 'vm.swappiness'),
    ({'values': {'vm.swappiness': True}}, 'values', 'integer or a string'),
    ({'values': {'vm.swappiness': [1, 2]}}, 'values', 'integer or a string'),
    ({'values': {'vm.swappiness': ''}}, 'values', 'empty'),
    ({'values': {'vm.swappiness': '10\nvm.overcommit_memory = 2'}}, 'values', 'one line'),
    ({'values': {}}, 'values', 'at least one'),
    ({}, 'values', 'missing'),
    ({'values': 'no dict here'}, 'values', 'dict'),
    ({'values': WANTED, 'file': 'relative.conf'}, 'file', 'absolute'),
    ({'values': WANTED, 'file': '/nonexistent-lowmem/sysctl.d/x.conf'}, 'file', 'nor its parent directory exists'),
    ({'values': WANTED, 'state': 'bogus'}, 'state', 'present, absent'),
    ({'values': WANTED, 'apply': 'maybe'}, 'apply', 'bool'),
])
def test_bad_input_names_the_parameter_and_changes_nothing(host, monkeypatch, args, parameter, fragment):
    before = tree(host.root)
    result = run(host, monkeypatch, **args)
    assert result['failed'] is True
    assert parameter in result['msg']
    assert fragment in result['msg']
    assert tree(host.root) == before


def test_file_that_is_a_directory_is_refused(host, monkeypatch):
    os.mkdir(host.conf)
    for state in ('present', 'absent'):
        before = tree(host.root)
        result = run(host, monkeypatch, values=WANTED, state=state)
        assert result['failed'] is True
        assert result['msg'].startswith('file: ') and 'not a regular file' in result['msg']
        assert tree(host.root) == before
