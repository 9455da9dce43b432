# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The claims of docs/security.md, each proven here or named there with the test that proves it.

Runs use umask 0 and directories that are setgid and owned by another group wherever a module
creates files, so that a file is private or root-owned because the module made it so, not
because the defaults happened to be kind.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import ast
import os
import signal
import stat

import pytest

from ansible_collections.lowmem.hardening.tests.reliability.helpers import (
    COLLECTION_ROOT,
    LmkHost,
    SwapHost,
    SysctlHost,
    InfoHost,
    read,
    stub,
    succeeded,
    tree,
)

NOGROUP = 65534
NOBODY = 65534
PLUGINS = os.path.join(COLLECTION_ROOT, 'plugins')
TEMPORARY = '.swapfile.lowmem-tmp.'


def plugin_files():
    found = []
    for dirpath, dummy, filenames in os.walk(PLUGINS):
        found += [os.path.join(dirpath, name) for name in filenames if name.endswith('.py')]
    assert len(found) >= 4, found  # the four modules at least
    return sorted(found)


def group_owned_setgid(directory):
    """A directory whose group is not root's and which hands its group down (setgid).

    Not group-writable: the swapfile module refuses directories others can write to.
    """
    if not os.path.isdir(directory):
        os.makedirs(directory)
    os.chown(directory, 0, NOGROUP)
    os.chmod(directory, 0o2755)


def owner_and_mode(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def writable_by_others(*tops):
    """Entries under tops (files or directories) that someone other than root owns or may write."""
    found = []
    for top in tops:
        paths = [top]
        for dirpath, dirnames, filenames in os.walk(top):
            paths += [os.path.join(dirpath, name) for name in dirnames + filenames]
        for path in paths:
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode) and (st.st_uid != 0 or st.st_mode & 0o022):
                found.append((path, oct(stat.S_IMODE(st.st_mode)), st.st_uid))
    return found


# ---- no shell --------------------------------------------------------------------

FORBIDDEN = ('use_unsafe_shell', 'shell=True', 'os.system', 'os.popen', 'os.exec', 'os.spawn', 'import subprocess',
             'from subprocess', 'import pty', 'commands.getoutput')


def test_no_shell_anywhere_in_the_plugins():
    for path in plugin_files():
        text = read(path).decode()
        for token in FORBIDDEN:
            # the host layer's StreamedCommand alone starts a process itself (checked below)
            if not (token == 'import subprocess' and path.endswith('module_utils/host.py')):
                assert token not in text, (path, token)


def test_the_one_process_started_outside_run_command_gets_an_argument_list():
    """host.StreamedCommand: subprocess.Popen with a list of bytes, no shell, once."""
    path = [p for p in plugin_files() if p.endswith('module_utils/host.py')][0]
    popens = [node for node in ast.walk(ast.parse(read(path), path))
              if isinstance(node, ast.Call) and getattr(node.func, 'attr', None) == 'Popen']
    assert len(popens) == 1
    assert isinstance(popens[0].args[0], ast.Attribute) and popens[0].args[0].attr == 'argv'
    assert [keyword.arg for keyword in popens[0].keywords if keyword.arg in ('shell', 'executable')] == []


def test_every_command_is_an_argument_list():
    """run_command gets a list (or a name bound to one), never a string a shell could split."""
    calls = 0
    for path in plugin_files():
        for node in ast.walk(ast.parse(read(path), path)):
            if isinstance(node, ast.Call) and getattr(node.func, 'attr', None) == 'StreamedCommand':
                calls += 1
                assert isinstance(node.args[0], (ast.List, ast.Name)), (path, node.lineno)
                continue
            if isinstance(node, ast.Call) and getattr(node.func, 'attr', None) in ('run_command', 'checked_command'):
                calls += 1
                # module.run_command(argv, ...) in the host layer; host.run_command(module, argv, ...) elsewhere
                argv = node.args[0] if getattr(node.func.value, 'id', None) != 'host' else node.args[1]
                assert not isinstance(argv, (ast.Constant, ast.JoinedStr)), (path, node.lineno)
                if isinstance(argv, ast.BinOp):
                    assert isinstance(argv.op, ast.Add), (path, node.lineno)
                    assert all(isinstance(side, (ast.List, ast.Name)) for side in (argv.left, argv.right))
                else:
                    assert isinstance(argv, (ast.List, ast.Name)), (path, node.lineno)
                assert all(keyword.arg != 'use_unsafe_shell' for keyword in node.keywords)
    assert calls >= 3  # the host layer's, lowmemorykiller_info's dmesg and journalctl, swapfile's


# ---- the swap file is private from its first instant ---------------------------------

SWAP_STOPS = [
    pytest.param('dd', dict(at='write', match=TEMPORARY), id='dd-first-write'),
    pytest.param('dd', dict(at='write', match=TEMPORARY, after=8 * 1024 * 1024), id='dd-half-way'),
    pytest.param('fallocate', dict(at='fallocate', match=TEMPORARY), id='before-fallocate'),
    pytest.param('fallocate', dict(at='after_fallocate', match=TEMPORARY), id='after-fallocate'),
    pytest.param('auto', dict(at='rename', match=TEMPORARY), id='formatted-before-rename'),
    pytest.param('auto', dict(at='atomic_move', match='fstab'), id='in-place-before-fstab'),
]


@pytest.mark.parametrize('method, stop', SWAP_STOPS)
def test_swap_file_is_never_readable_by_others(ext4, runner, root, method, stop):
    mount_point = ext4(128)
    group_owned_setgid(mount_point)
    host = SwapHost(mount_point, root, runner)
    process = host.start(size='16M', method=method, umask=0, interrupt=dict(stop, signal='STOP'))
    assert runner.wait_stopped(process), runner.finish(process)
    files = [os.path.join(mount_point, name) for name in os.listdir(mount_point) if name != 'lost+found']
    assert files  # stopped where a file exists
    for path in files:
        assert owner_and_mode(path) == (0, 0, 0o600), path
    process.send_signal(signal.SIGCONT)
    succeeded(runner.finish(process))
    assert owner_and_mode(host.path) == (0, 0, 0o600)


def test_swap_file_readable_by_others_is_made_private_in_place(ext4, runner, root):
    host = SwapHost(ext4(128), root, runner)
    succeeded(host.run(size='4M'))
    os.chown(host.path, NOBODY, NOGROUP)
    os.chmod(host.path, 0o644)
    inode = os.stat(host.path).st_ino
    assert succeeded(host.run(size='4M'))['changed']
    assert owner_and_mode(host.path) == (0, NOGROUP, 0o600) and os.stat(host.path).st_ino == inode


def test_new_fstab_is_root_owned_and_not_writable_by_others(ext4, runner, root):
    host = SwapHost(ext4(128), root, runner, fstab=None)
    group_owned_setgid(os.path.dirname(host.fstab))
    succeeded(host.run(size='4M', umask=0))
    assert owner_and_mode(host.fstab) == (0, 0, 0o644)


# ---- boot-time files, state file, sysctl.d file ------------------------------------------

BOOT_FILE_MODES = [('tmpfiles', 0o644), ('openrc', 0o755), ('cron', 0o644)]


@pytest.mark.parametrize('method, mode', BOOT_FILE_MODES)
def test_boot_files_and_state_are_root_owned(runner, root, method, mode):
    host = LmkHost(root, runner)
    stub(runner, 'cron')  # a cron daemon is "installed"
    for directory in host.etc_directories():
        group_owned_setgid(os.path.dirname(directory))  # etc/ and var/lib/: the module makes the rest
    group_owned_setgid(os.path.dirname(host.files['openrc']))  # local.d exists on OpenRC hosts
    succeeded(host.run(state='disabled', persist=method, umask=0))
    assert owner_and_mode(host.files[method]) == (0, 0, mode)
    # private to root: 0600 in a directory the module made 0700 (its group does not matter then;
    # the setgid bit is the parent's, inherited)
    uid, dummy, mode = owner_and_mode(host.state_file)
    assert (uid, mode) == (0, 0o600)
    uid, dummy, mode = owner_and_mode(os.path.dirname(host.state_file))
    assert (uid, mode & 0o777) == (0, 0o700)
    created = [host.files[method], os.path.dirname(host.state_file)]
    if method != 'openrc':
        created.append(os.path.dirname(host.files[method]))
    assert writable_by_others(*created) == []


@pytest.mark.parametrize('method, mode', BOOT_FILE_MODES)
def test_boot_file_with_a_wrong_mode_or_owner_is_rewritten(runner, root, method, mode):
    """A boot file runs as root at boot: left writable by others, anyone could run code as root."""
    host = LmkHost(root, runner)
    stub(runner, 'cron')
    succeeded(host.run(state='disabled', persist=method))
    content = read(host.files[method])
    os.chown(host.files[method], NOBODY, NOGROUP)
    os.chmod(host.files[method], 0o666)
    assert succeeded(host.run(state='disabled', persist=method))['changed']
    assert owner_and_mode(host.files[method]) == (0, 0, mode)
    assert read(host.files[method]) == content
    assert not succeeded(host.run(state='disabled', persist=method))['changed']


def test_sysctl_file_is_root_owned_and_fixed_when_not(runner, root):
    host = SysctlHost(root, runner)
    group_owned_setgid(os.path.dirname(host.conf))
    succeeded(host.run(values={'vm.swappiness': 10}, umask=0))
    assert owner_and_mode(host.conf) == (0, 0, 0o644)
    os.chown(host.conf, NOBODY, NOGROUP)
    os.chmod(host.conf, 0o666)
    assert succeeded(host.run(values={'vm.swappiness': 10}))['changed']
    assert owner_and_mode(host.conf) == (0, 0, 0o644)


def test_lowmemorykiller_info_changes_nothing(runner, root):
    host = InfoHost(root, runner)
    before = tree(root)
    result = succeeded(host.run())
    assert result['changed'] is False
    assert [kill['pid'] for kill in result['lowmemorykiller']['kills']] == [77, 1204]  # it did read
    assert tree(root) == before
