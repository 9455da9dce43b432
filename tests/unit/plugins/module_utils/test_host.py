# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host layer's guarantees, each on its own: parsers, undo, atomic writes, the lock, commands, root."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from ansible.module_utils import basic
from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.tests.unit.plugins.modules.utils import patch_module_args

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='the host layer writes root-owned files')
NOBODY = 65534


class Failed(Exception):
    def __init__(self, msg, **result):
        super(Failed, self).__init__(msg)
        self.msg = msg
        self.result = result


@pytest.fixture
def module(monkeypatch, tmp_path):
    with patch_module_args({'_ansible_remote_tmp': str(tmp_path), '_ansible_keep_remote_files': False}):
        ansible_module = basic.AnsibleModule(argument_spec={})

    def fail_json(msg, **result):
        raise Failed(msg, **result)
    monkeypatch.setattr(ansible_module, 'fail_json', fail_json)
    return ansible_module


def write(path, data, mode=0o644):
    with open(str(path), 'wb') as handle:
        handle.write(data)
    os.chmod(str(path), mode)
    return str(path)


def tree(top):
    """Every name under top with its mode, owner and bytes."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(str(top)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = open(path, 'rb').read() if stat.S_ISREG(st.st_mode) else None
            found[os.path.relpath(path, str(top))] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, content)
    return found


# ---- parsers ----------------------------------------------------------------------------

MEMINFO = """MemTotal:        2014224 kB
MemFree:          123456 kB
MemAvailable:     654321 kB
Buffers:            1000 kB
Cached:            20000 kB
Shmem:              5000 kB
HugePages_Total:       0
"""


def test_parse_meminfo_converts_kib_to_bytes_and_keeps_counts():
    info = host.parse_meminfo(MEMINFO)
    assert info['MemTotal'] == 2014224 * 1024
    assert info['HugePages_Total'] == 0
    assert host.memory_available(info) == 654321 * 1024
    info = host.parse_meminfo('MemTotal:         505400 kB\nMemFree:  1000 kB\nHugePages_Total:       2\n')
    assert (info['MemTotal'], info['MemFree'], info['HugePages_Total']) == (505400 * 1024, 1024000, 2)


def test_memory_available_before_linux_3_14_is_estimated():
    info = host.parse_meminfo(MEMINFO.replace('MemAvailable:     654321 kB\n', ''))
    assert host.memory_available(info) == (123456 + 1000 + 20000 - 5000) * 1024


def test_parse_swaps():
    data = (b'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'
            b'/dev/vda2                               partition\t1048572\t\t0\t\t-2\n'
            b'/swapfile                               file\t\t524284\t\t1024\t\t10\n'
            b'/var/my\\040swap                          file\t\t40956\t\t0\t\t-3\n'
            b'/gone (deleted)                         file\t\t40956\t\t0\t\t-4\n')
    assert host.parse_swaps(data) == [
        host.SwapArea(b'/dev/vda2', 'partition', 1048572 * 1024, 0, -2),
        host.SwapArea(b'/swapfile', 'file', 524284 * 1024, 1024 * 1024, 10),
        host.SwapArea(b'/var/my swap', 'file', 40956 * 1024, 0, -3),
    ]
    assert host.parse_swaps(b'Filename\tType\tSize\tUsed\tPriority\n') == []


def test_find_processes_by_comm_and_python_script(tmp_path, monkeypatch):
    proc = tmp_path / 'proc'
    for pid, comm, argv in (('12', 'lmkd', b'/system/bin/lmkd\0'), ('7', 'earlyoom', b'earlyoom\0-m\0005\0'),
                            ('30', 'python3', b'python3\0/usr/sbin/nohang\0--monitor\0'),
                            ('31', 'python3', b'python3\0other.py\0'), ('40', 'bash', b'bash\0')):
        (proc / pid).mkdir(parents=True)
        write(proc / pid / 'comm', comm.encode() + b'\n')
        write(proc / pid / 'cmdline', argv)
    (proc / '99').mkdir()  # ended while being read: no comm
    monkeypatch.setattr(host, 'PROC', str(proc))
    found = host.find_processes(('lmkd', 'earlyoom', 'nohang'), scripts=('nohang',))
    assert dict(found) == {'lmkd': [(12, ['/system/bin/lmkd'])], 'earlyoom': [(7, ['earlyoom', '-m', '5'])],
                           'nohang': [(30, ['nohang', '--monitor'])]}
    assert dict(host.find_processes(('lmkd',))) == {'lmkd': [(12, ['/system/bin/lmkd'])]}


# ---- the undo log --------------------------------------------------------------------------

@needs_root
def test_has_capability_reads_the_effective_set(tmp_path, monkeypatch):
    (tmp_path / 'self').mkdir()
    monkeypatch.setattr(host, 'PROC', str(tmp_path))
    (tmp_path / 'self' / 'status').write_text(u'Name:\tx\nCapPrm:\t000001ffffffffff\nCapEff:\t00000000a80425fb\n')
    assert host.has_capability(0) and host.has_capability(18)  # CAP_CHOWN, CAP_SYS_CHROOT
    assert not host.has_capability(24)  # CAP_SYS_RESOURCE: a rootful podman container's default set lacks it
    (tmp_path / 'self' / 'status').write_text(u'Name:\tx\nCapEff:\t000001ffffffffff\n')
    assert host.has_capability(24)


def test_a_failed_third_step_undoes_the_first_two(module, tmp_path):
    new = str(tmp_path / 'etc' / 'new.conf')
    kept = write(tmp_path / 'kept.conf', b'old bytes\n', 0o640)
    gone = write(tmp_path / 'gone.conf', b'removed, then back\n', 0o600)
    before = tree(tmp_path)
    with pytest.raises(Failed) as failure:
        with host.Changes(module, {'before': 'what was seen'}) as changes:
            changes.write_file(new, 'first\n')
            changes.write_file(kept, b'second\n', mode=0o644)
            changes.remove_file(gone)
            raise host.StepFailed('third step: it broke')
    assert failure.value.msg == 'third step: it broke. Everything this run changed was undone.'
    assert failure.value.result == {'before': 'what was seen'}
    assert tree(tmp_path) == before  # etc/ created for the first step is gone again


def test_undo_runs_newest_first_and_reports_what_it_could_not_undo(module):
    order = []

    def cannot():
        raise OSError(13, 'Permission denied', '/etc/x')
    with pytest.raises(Failed) as failure:
        with host.Changes(module) as changes:
            changes.did(lambda: order.append('first'))
            changes.did(cannot)
            changes.did(lambda: order.append('third'))
            raise OSError(28, 'No space left on device')
    assert order == ['third', 'first']
    assert failure.value.msg == ('No space left on device. Undoing the run failed too, the host may be changed: '
                                 'Permission denied: /etc/x.')


def test_other_exceptions_unwind_and_propagate(module):
    undone = []
    with pytest.raises(KeyError):
        with host.Changes(module) as changes:
            changes.did(lambda: undone.append(True))
            raise KeyError('a bug')
    assert undone == [True]


def test_a_run_that_succeeds_keeps_its_changes(module):
    undone = []
    with host.Changes(module) as changes:
        changes.did(lambda: undone.append(True))
    assert undone == [] and changes.unwind() == []


# ---- atomic root-owned writes ----------------------------------------------------------------

@needs_root
def test_write_file_sets_mode_and_root_owner_or_keeps_the_old_ones(module, tmp_path):
    mine = str(tmp_path / 'mine')
    theirs = write(tmp_path / 'fstab', b'old\n', 0o604)
    os.chown(theirs, NOBODY, NOBODY)
    with host.Changes(module) as changes:
        changes.write_file(mine, 'x\n', mode=0o600)
        changes.write_file(theirs, b'new\n')
    assert tree(tmp_path) == {'mine': (0o600, 0, 0, b'x\n'), 'fstab': (0o604, NOBODY, NOBODY, b'new\n')}


@needs_root
def test_the_temporary_is_root_owned_with_the_final_mode_before_it_is_renamed(module, tmp_path, monkeypatch):
    seen = []
    real_move = basic.AnsibleModule.atomic_move

    def look_then_move(self, src, dest, *args, **kwargs):
        st = os.stat(src)
        seen.append((os.path.basename(src).startswith('.state.lowmem-tmp.'), stat.S_IMODE(st.st_mode), st.st_uid,
                     open(src, 'rb').read()))
        real_move(self, src, dest, *args, **kwargs)
        seen.append(stat.S_IMODE(os.stat(dest).st_mode))  # atomic_move's own mode for a new file: never more open
    monkeypatch.setattr(basic.AnsibleModule, 'atomic_move', look_then_move)
    os.umask(0o022)
    with host.Changes(module) as changes:
        changes.write_file(str(tmp_path / 'state'), b'{}', mode=0o600)
    assert seen == [(True, 0o600, 0, b'{}'), 0o600]
    assert os.listdir(str(tmp_path)) == ['state']


@needs_root
def test_a_write_killed_before_the_rename_leaves_the_old_file(module, tmp_path, monkeypatch):
    target = write(tmp_path / 'sysctl.conf', b'old\n')

    def killed(self, src, dest, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    monkeypatch.setattr(basic.AnsibleModule, 'atomic_move', killed)
    pid = os.fork()
    if pid == 0:  # the run, killed where the new bytes are complete but not in place
        try:
            host.Changes(module).write_file(target, b'new\n')
        finally:
            os._exit(1)
    _pid, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert open(target, 'rb').read() == b'old\n'
    leftovers = [name for name in os.listdir(str(tmp_path)) if name != 'sysctl.conf']
    assert [name.startswith('.sysctl.conf.lowmem-tmp.') for name in leftovers] == [True]
    assert open(str(tmp_path / leftovers[0]), 'rb').read() == b'new\n'


@needs_root
def test_backup_is_made_and_removed_again_when_the_run_fails(module, tmp_path):
    fstab = write(tmp_path / 'fstab', b'old\n')
    with host.Changes(module) as changes:
        backup = changes.write_file(fstab, b'new\n', backup=True)
    assert open(backup, 'rb').read() == b'old\n' and open(fstab, 'rb').read() == b'new\n'
    os.unlink(backup)
    with pytest.raises(Failed):
        with host.Changes(module) as changes:
            changes.write_file(fstab, b'newer\n', backup=True)
            raise host.StepFailed('later step')
    assert os.listdir(str(tmp_path)) == ['fstab'] and open(fstab, 'rb').read() == b'new\n'


@needs_root
def test_state_file_is_0600_in_a_0700_directory_and_goes_when_empty(module, tmp_path, monkeypatch):
    state_file = str(tmp_path / 'var' / 'lib' / 'lowmem-hardening' / 'lowmemorykiller.json')
    monkeypatch.setattr(host, 'STATE_FILE', state_file)
    assert host.load_state() == {}
    with host.Changes(module) as changes:
        changes.save_state({'paths': {'/sys/x': {'original': {'adj': '0\n'}}}})
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(state_file)).st_mode) == 0o700
    assert host.load_state() == {'paths': {'/sys/x': {'original': {'adj': '0\n'}}}}
    with host.Changes(module) as changes:
        changes.save_state({'paths': {}})
    assert not os.path.exists(os.path.dirname(state_file)) and os.path.isdir(str(tmp_path / 'var' / 'lib'))


# ---- the lock ----------------------------------------------------------------------------------

SECOND_RUN = """
import sys
from ansible_collections.lowmem.hardening.plugins.module_utils import host
with host.locked(sys.argv[1]):
    open(sys.argv[2], 'w').close()
"""


def test_two_runs_serialise(tmp_path):
    """A second process waits for the lock: its marker appears only after the first run released it."""
    directory = tmp_path / 'swap'
    directory.mkdir()
    marker = str(tmp_path / 'second-run-was-here')
    seen = []
    with host.locked(str(directory), str(directory / 'missing' / 'deeper'), str(directory)):
        second = subprocess.Popen([sys.executable, '-c', SECOND_RUN, str(directory), marker],
                                  env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        time.sleep(0.5)  # time for the second run to reach the lock (it must not get past it)
        seen.append(os.path.exists(marker))
    assert second.wait() == 0
    seen.append(os.path.exists(marker))
    assert seen == [False, True]


# ---- commands and root ---------------------------------------------------------------------------

def test_commands_run_without_a_shell_under_the_c_locale(module):
    script = 'import os, sys; sys.stderr.write(os.environ["LC_ALL"] + " " + sys.argv[1]); sys.exit(3)'
    rc, out, err = host.run_command(module, [sys.executable, '-c', script, '$HOME;*'])
    assert (rc, out, err) == (3, '', 'C $HOME;*')
    with pytest.raises(host.StepFailed) as failure:
        host.checked_command(module, [sys.executable, '-c', script, 'x'])
    assert str(failure.value).endswith('failed (rc=3): C x')


def test_require_root_fails_before_anything(module, monkeypatch):
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    with pytest.raises(Failed) as failure:
        host.require_root(module, 'write /etc/fstab')
    assert 'must run as root to write /etc/fstab: add become: true. Nothing was changed.' in failure.value.msg


def test_load_state_ignores_what_is_not_a_state(tmp_path, monkeypatch):
    state_file = write(tmp_path / 'state.json', b'[1, 2]')
    monkeypatch.setattr(host, 'STATE_FILE', state_file)
    assert host.load_state() == {}
    write(state_file, json.dumps({'paths': {}}).encode())
    assert host.load_state() == {'paths': {}}


# ---- StreamedCommand ---------------------------------------------------------------------------

def test_streamed_command_yields_large_output_in_chunks_then_rc_and_err(monkeypatch):
    monkeypatch.setenv('LC_ALL', 'de_DE.UTF-8')
    script = ('import os, sys; sys.stdout.buffer.write(b"x" * (5 << 20)); '
              'sys.stderr.write(os.environ["LC_ALL"] + " " + sys.argv[1]); sys.exit(3)')
    command = host.StreamedCommand([sys.executable, '-c', script, '$HOME;*'], chunk_size=1 << 20)
    sizes = [len(chunk) for chunk in command.chunks()]
    assert sum(sizes) == 5 << 20 and max(sizes) <= 1 << 20 and len(sizes) >= 5
    # no shell: the argument arrives as written; the C locale whatever the caller's
    assert (command.rc, command.err) == (3, b'C $HOME;*')


def test_streamed_command_missing_binary():
    command = host.StreamedCommand(['/nonexistent/journalctl', '--no-pager'])
    assert list(command.chunks()) == []
    assert command.rc == 127 and b'No such file or directory' in command.err


def test_streamed_command_stopped_early_ends_the_process():
    command = host.StreamedCommand([sys.executable, '-c', 'import sys\nwhile True: sys.stdout.write("y" * 4096)'],
                                   chunk_size=4096)
    chunks = command.chunks()
    assert next(chunks)
    chunks.close()
    assert command.rc is not None and command.rc != 0  # killed, and waited for: no zombie left
