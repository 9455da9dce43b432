# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lowmem.hardening.swapfile on real files in a temporary directory.

fstab, /proc/swaps, /proc/meminfo and /proc/self/mountinfo are files under
tmp_path. Real mkswap builds the files. swapon/swapoff are never run for real
(swap is kernel-wide): tests that need them put logging stand-ins first on PATH.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import errno
import fcntl
import hashlib
import os
import re
import shutil
import stat

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.plugins.modules import swapfile as swapfile_module
from ansible_collections.lowmem.hardening.tests.unit.plugins.modules.utils import run_module

PAGE = os.sysconf('SC_PAGE_SIZE')
MIB = 1024 * 1024
ORIGINAL_FSTAB = (b'# /etc/fstab: static file system information.\r\n'
                  b'UUID=1234-abcd\t/\text4\terrors=remount-ro\t0\t1\r\n'
                  b'UUID=5678-ef01 none swap sw,pri=5 0 0\r\n'
                  b'#/swapfile none swap sw 0 0')  # CRLF and no final newline on purpose
SWAPS_HEADER = b'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'

MKSWAP = shutil.which('mkswap', path=os.pathsep.join([os.environ.get('PATH', ''), '/sbin', '/usr/sbin']))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason='lowmem.hardening.swapfile runs as root only'),
    pytest.mark.skipif(MKSWAP is None, reason='mkswap (util-linux) is not installed'),
]

Env = collections.namedtuple('Env', 'root swapdir swapfile fstab swaps meminfo mountinfo bindir log')


def write(path, data):
    with open(path, 'wb') as handle:
        handle.write(data)


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


@pytest.fixture
def env(tmp_path, monkeypatch):
    root = os.path.realpath(str(tmp_path))
    swapdir = os.path.join(root, 'swap')
    etc = os.path.join(root, 'etc')
    proc = os.path.join(root, 'proc')
    bindir = os.path.join(root, 'bin')
    for directory in (swapdir, etc, proc, bindir):
        os.mkdir(directory)
    paths = dict(fstab=os.path.join(etc, 'fstab'), swaps=os.path.join(proc, 'swaps'),
                 meminfo=os.path.join(proc, 'meminfo'), mountinfo=os.path.join(proc, 'mountinfo'))
    write(paths['fstab'], ORIGINAL_FSTAB)
    write(paths['swaps'], SWAPS_HEADER)
    write(paths['meminfo'], b'MemTotal:        8192 kB\nMemFree:         4096 kB\nMemAvailable:    4096 kB\n')
    # ext4 whatever tmp_path really is: the filesystem check itself is tested with a tmpfs entry
    write(paths['mountinfo'], b'27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n'
          b'99 27 254:9 / ' + root.encode() + b' rw,relatime - ext4 /dev/vdz rw\n')
    monkeypatch.setattr(swapfile_module, 'FSTAB_PATH', paths['fstab'])
    monkeypatch.setattr(host, 'PROC_SWAPS', paths['swaps'])
    monkeypatch.setattr(host, 'MEMINFO', paths['meminfo'])
    monkeypatch.setattr(swapfile_module, 'MOUNTINFO_PATH', paths['mountinfo'])
    return Env(root=root, swapdir=swapdir, swapfile=os.path.join(swapdir, 'swapfile'), bindir=bindir,
               log=os.path.join(root, 'commands.log'), **paths)


def run(env, monkeypatch, check_mode=False, diff=False, **args):
    args.setdefault('path', env.swapfile)
    args.setdefault('active', False)
    return run_module(swapfile_module.main, args, check_mode=check_mode, diff=diff, monkeypatch=monkeypatch)


def snapshot(env, directory_times=True):
    """Everything the module could touch: the swap directory and fstab, with inodes and times.

    A run that wrote a temporary and removed it again leaves the directories'
    modification times changed: directory_times=False leaves those out.
    """
    found = {}
    for top in (env.swapdir, os.path.dirname(env.fstab)):
        for dirpath, dirnames, filenames in os.walk(top):
            for name in [''] + dirnames + filenames:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                entry = (stat.filemode(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_ino)
                if directory_times or not stat.S_ISDIR(st.st_mode):
                    entry += (st.st_mtime_ns,)
                if stat.S_ISREG(st.st_mode):
                    entry += (hashlib.sha256(read(path)).hexdigest(),)
                found[path] = entry
    return found


def assert_swapfile(path, size):
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert st.st_size == size
    assert st.st_blocks * 512 >= size  # no holes: swapon refuses sparse files
    with open(path, 'rb') as handle:
        handle.seek(PAGE - 10)
        assert handle.read(10) == b'SWAPSPACE2'


def fake_tool(env, name, fail_when=None, message='Operation not permitted'):
    """A stand-in for swapon/swapoff/mkswap that logs its arguments; it fails
    when its arguments contain fail_when."""
    script = ['#!/bin/sh', 'echo "%s $*" >> "%s"' % (name, env.log)]
    if fail_when is not None:
        script.append('case "$*" in *"%s"*) echo "%s: $*: %s failed: %s" >&2; exit 255;; esac'
                      % (fail_when, name, name, message))
    path = os.path.join(env.bindir, name)
    write(path, ('\n'.join(script) + '\nexit 0\n').encode())
    os.chmod(path, 0o755)


def use_fake_tools(env, monkeypatch):
    monkeypatch.setenv('PATH', env.bindir + os.pathsep + os.environ.get('PATH', ''))


def logged(env):
    return read(env.log).decode().splitlines() if os.path.exists(env.log) else []


def mark_active(env, size, used_kib=0, priority=-2):
    write(env.swaps, SWAPS_HEADER + ('%s file %d %d %d\n' % (env.swapfile, size // 1024, used_kib, priority)).encode())


# ---- create, idempotence, check and diff mode --------------------------------

def test_create(env, monkeypatch):
    result = run(env, monkeypatch, size='1M')
    assert not result.get('failed'), result
    assert result['changed'] and result['created'] and not result['resized'] and not result['removed']
    assert result['size'] == MIB and result['active'] is False and result['path'] == env.swapfile
    line = '%s none swap sw 0 0' % env.swapfile
    assert result['fstab'] == line
    assert_swapfile(env.swapfile, MIB)
    # appended with the file's CRLF, still without a final newline
    assert read(env.fstab) == ORIGINAL_FSTAB + b'\r\n' + line.encode()
    # no temporary, backup or lock file left behind
    assert os.listdir(env.swapdir) == ['swapfile']


@pytest.mark.parametrize('method', ['dd', 'fallocate'])
def test_create_with_each_method(env, monkeypatch, method):
    size = 10 * PAGE + 123  # not a page multiple: bytes are bytes
    result = run(env, monkeypatch, size=size, method=method, fstab=False)
    assert result['changed'] and result['created'] and result['fstab'] is None
    assert_swapfile(env.swapfile, size)
    assert read(env.fstab) == ORIGINAL_FSTAB


def test_second_run_changes_nothing(env, monkeypatch):
    first = run(env, monkeypatch, size='2MiB', priority=3)
    assert first['changed']
    before = snapshot(env)
    second = run(env, monkeypatch, size=2 * MIB, priority=3)
    assert not second.get('failed'), second
    assert not second['changed'] and not second['created'] and not second['resized']
    assert second['fstab'] == '%s none swap sw,pri=3 0 0' % env.swapfile
    assert snapshot(env) == before


def test_check_mode_predicts_and_writes_nothing(env, monkeypatch):
    before = snapshot(env)
    predicted = run(env, monkeypatch, check_mode=True, size='1M')
    assert not predicted.get('failed'), predicted
    assert snapshot(env) == before
    done = run(env, monkeypatch, size='1M')
    for key in ('changed', 'created', 'resized', 'removed', 'size', 'active', 'fstab', 'path'):
        assert predicted[key] == done[key], key
    assert predicted['changed'] and predicted['created']
    after_create = snapshot(env)
    predicted_resize = run(env, monkeypatch, check_mode=True, size='2M')
    assert predicted_resize['changed'] and predicted_resize['resized'] and predicted_resize['size'] == 2 * MIB
    predicted_absent = run(env, monkeypatch, check_mode=True, state='absent')
    assert predicted_absent['changed'] and predicted_absent['removed']
    assert snapshot(env) == after_create
    assert not run(env, monkeypatch, check_mode=True, size='1M')['changed']


def test_diff_shows_fstab_and_file(env, monkeypatch):
    result = run(env, monkeypatch, check_mode=True, diff=True, size='1M')
    by_header = dict((entry['before_header'], entry) for entry in result['diff'])
    assert by_header[env.fstab]['before'] == ORIGINAL_FSTAB.decode()
    assert by_header[env.fstab]['after'] == ORIGINAL_FSTAB.decode() + '\r\n%s none swap sw 0 0' % env.swapfile
    assert by_header[env.swapfile]['before'] == ''
    assert by_header[env.swapfile]['after'] == 'size: %d\nmode: 0600\nactive: false\n' % MIB
    run(env, monkeypatch, size='1M')
    resize = run(env, monkeypatch, diff=True, size='2M')
    by_header = dict((entry['before_header'], entry) for entry in resize['diff'])
    assert by_header[env.swapfile]['before'] == 'size: %d\nmode: 0600\nactive: false\n' % MIB
    assert by_header[env.swapfile]['after'] == 'size: %d\nmode: 0600\nactive: false\n' % (2 * MIB)
    assert by_header[env.fstab]['before'] == by_header[env.fstab]['after']


# ---- resize, absent, leftovers -------------------------------------------------

def test_resize(env, monkeypatch):
    run(env, monkeypatch, size='2M')
    old_inode = os.stat(env.swapfile).st_ino
    fstab_after_create = read(env.fstab)
    result = run(env, monkeypatch, size='1M')
    assert result['changed'] and result['resized'] and not result['created'] and result['size'] == MIB
    assert_swapfile(env.swapfile, MIB)
    assert os.stat(env.swapfile).st_ino != old_inode  # a new file was renamed into place
    assert read(env.fstab) == fstab_after_create
    assert os.listdir(env.swapdir) == ['swapfile']


def test_absent_gives_back_the_original_fstab(env, monkeypatch):
    run(env, monkeypatch, size='1M', priority=10)
    assert read(env.fstab) != ORIGINAL_FSTAB
    result = run(env, monkeypatch, state='absent')
    assert not result.get('failed'), result
    assert result['changed'] and result['removed'] and result['fstab'] is None and result['size'] == 0
    assert read(env.fstab) == ORIGINAL_FSTAB
    assert os.listdir(env.swapdir) == []
    again = run(env, monkeypatch, state='absent')
    assert not again['changed'] and not again['removed']


def test_fstab_keeps_its_mode_and_owner(env, monkeypatch):
    os.chmod(env.fstab, 0o640)
    os.chown(env.fstab, 0, 4)
    run(env, monkeypatch, size='1M')
    st = os.stat(env.fstab)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 0, 4)
    assert os.listdir(os.path.dirname(env.fstab)) == ['fstab']


def test_missing_fstab_is_created(env, monkeypatch):
    os.unlink(env.fstab)
    result = run(env, monkeypatch, size='1M')
    assert read(env.fstab) == ('%s\n' % result['fstab']).encode()
    assert stat.S_IMODE(os.stat(env.fstab).st_mode) == 0o644


def test_stale_temporary_is_removed(env, monkeypatch):
    run(env, monkeypatch, size='1M')
    stale = os.path.join(env.swapdir, '.swapfile.lowmem-tmp.0123456789abcdef')
    write(stale, b'half written')
    unrelated = os.path.join(env.swapdir, '.other.lowmem-tmp.0123')
    write(unrelated, b'not ours')
    predicted = run(env, monkeypatch, check_mode=True, diff=True, size='1M')
    assert predicted['changed'] and not predicted['created'] and os.path.exists(stale)
    assert 'leftover temporary: %s' % stale in predicted['diff'][0]['before']
    result = run(env, monkeypatch, size='1M')
    assert result['changed'] and not result['created'] and not result['resized']
    assert sorted(os.listdir(env.swapdir)) == ['.other.lowmem-tmp.0123', 'swapfile']
    assert not run(env, monkeypatch, size='1M')['changed']


def test_readable_swapfile_is_made_private(env, monkeypatch):
    run(env, monkeypatch, size='1M')
    os.chmod(env.swapfile, 0o644)
    inode = os.stat(env.swapfile).st_ino
    result = run(env, monkeypatch, size='1M')
    assert result['changed'] and not result['created'] and not result['resized']
    assert stat.S_IMODE(os.stat(env.swapfile).st_mode) == 0o600 and os.stat(env.swapfile).st_ino == inode


def test_size_auto_uses_memtotal(env, monkeypatch):
    # MemTotal 8 MiB (fixture) is below 2 GiB: twice the RAM
    result = run(env, monkeypatch, size='auto')
    assert result['size'] == 16 * MIB and result['created']
    assert_swapfile(env.swapfile, 16 * MIB)
    assert not run(env, monkeypatch, size='auto')['changed']


def test_directory_lock_is_held_while_files_are_renamed(env, monkeypatch):
    real_rename = os.rename
    lock_attempts = []

    def rename_checking_the_lock(source, destination):
        # flock locks belong to an open file description: a second open of the
        # directory must not get the lock while the module holds it
        fd = os.open(env.swapdir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            lock_attempts.append(None)
        except OSError as exc:
            lock_attempts.append(exc.errno)
        finally:
            os.close(fd)
        return real_rename(source, destination)

    monkeypatch.setattr(swapfile_module.os, 'rename', rename_checking_the_lock)
    result = run(env, monkeypatch, size='1M')
    assert result['created']
    # the swapfile's rename and atomic_move's rename of fstab both ran under the lock
    assert len(lock_attempts) >= 2 and set(lock_attempts) == set([errno.EWOULDBLOCK])
    fd = os.open(env.swapdir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released at exit
    finally:
        os.close(fd)


# ---- failures leave nothing behind ---------------------------------------------

def test_failing_mkswap_leaves_nothing(env, monkeypatch):
    fake_tool(env, 'mkswap', fail_when='')
    use_fake_tools(env, monkeypatch)
    before = snapshot(env, directory_times=False)
    result = run(env, monkeypatch, size='1M')
    assert result['failed'] and 'mkswap' in result['msg'] and 'undone' in result['msg']
    assert snapshot(env, directory_times=False) == before


def test_failing_allocation_leaves_nothing(env, monkeypatch):
    def no_space(fd, offset, length):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(swapfile_module.os, 'posix_fallocate', no_space)
    before = snapshot(env, directory_times=False)
    result = run(env, monkeypatch, size='1M', method='fallocate')
    assert result['failed'] and 'No space left' in result['msg']
    assert snapshot(env, directory_times=False) == before


def test_not_root_fails_before_touching_anything(env, monkeypatch):
    monkeypatch.setattr(swapfile_module.os, 'geteuid', lambda: 1000)
    before = snapshot(env)
    result = run(env, monkeypatch, size='1M')
    assert result['failed'] and 'become: true' in result['msg']
    assert snapshot(env) == before


def _directory(env):
    os.mkdir(env.swapfile)


def _symlink(env):
    write(os.path.join(env.swapdir, 'target'), b'')
    os.symlink('target', env.swapfile)


def _fifo(env):
    os.mkfifo(env.swapfile)


def _data_file(env):
    write(env.swapfile, b'precious data\n' * 10000)


def _tmpfs(env):
    with open(env.mountinfo, 'ab') as handle:
        handle.write(b'100 99 0:50 / ' + env.swapdir.encode() + b' rw,nosuid - tmpfs tmpfs rw\n')


def _read_only(env):
    with open(env.mountinfo, 'ab') as handle:
        handle.write(b'100 99 0:50 / ' + env.swapdir.encode() + b' ro,relatime - ext4 /dev/vdy ro\n')


BAD_INPUTS = [
    ('size', dict(size='abc'), None),
    ('size', dict(size='1.5X'), None),
    ('size', dict(size='-5M'), None),
    ('size', dict(size=0), None),
    ('size', dict(size='0.1K'), None),
    ('size', dict(size=1.5), None),
    ('size', dict(size=True), None),
    ('size', dict(size='4096'), None),       # below 10 pages
    ('size', dict(size='1000T'), None),      # no such free space
    ('size', dict(), None),                  # state=present needs it
    ('size', dict(size='auto'), None),       # MemTotal unknown -> 0 -> below the minimum
    ('priority', dict(size='1M', priority=40000), None),
    ('priority', dict(size='1M', priority=-2), None),
    ('priority', dict(size='1M', priority='high'), None),
    ('method', dict(size='1M', method='cp'), None),
    ('state', dict(size='1M', state='gone'), None),
    ('fstab', dict(size='1M', fstab='maybe'), None),
    ('active', dict(size='1M', active='sometimes'), None),
    ('path', dict(size='1M', path='relative/swapfile'), None),
    ('path', dict(size='1M'), _directory),
    ('path', dict(size='1M'), _symlink),
    ('path', dict(size='1M'), _fifo),
    ('path', dict(size='1M'), _data_file),
    ('path', dict(size='1M', state='absent'), _data_file),
    ('path', dict(size='1M'), _tmpfs),
    ('path', dict(size='1M'), _read_only),
    ('path', dict(size='1M', path='/nonexistent-lowmem-dir/swapfile'), None),
]


@pytest.mark.parametrize('param, args, prepare', BAD_INPUTS,
                         ids=['%s-%d' % (case[0], number) for number, case in enumerate(BAD_INPUTS)])
def test_bad_input_names_the_parameter_and_changes_nothing(env, monkeypatch, param, args, prepare):
    if prepare is not None:
        prepare(env)
    if args.get('size') == 'auto':
        write(env.meminfo, b'')
    stale = os.path.join(env.swapdir, '.swapfile.lowmem-tmp.feedface')
    write(stale, b'left by an interrupted run')  # a refusal must not even clean up
    before = snapshot(env)
    result = run(env, monkeypatch, **args)
    assert result.get('failed'), result
    assert re.search(r'\b%s\b' % param, result['msg']), result['msg']
    assert snapshot(env) == before


# ---- activation, with stand-ins for swapon and swapoff -------------------------

def test_swapon_refused_in_a_container_undoes_the_run(env, monkeypatch):
    fake_tool(env, 'swapon', fail_when=env.swapfile)
    fake_tool(env, 'swapoff')
    use_fake_tools(env, monkeypatch)
    before = snapshot(env, directory_times=False)
    result = run(env, monkeypatch, size='1M', active=True)
    assert result['failed']
    assert 'active: false' in result['msg'] and 'undone' in result['msg']
    assert logged(env) == ['swapon %s' % env.swapfile]
    assert snapshot(env, directory_times=False) == before  # the new file is gone again, fstab untouched


def test_swapon_of_new_file(env, monkeypatch):
    fake_tool(env, 'swapon')
    fake_tool(env, 'swapoff')
    use_fake_tools(env, monkeypatch)
    result = run(env, monkeypatch, size='1M', active=True, priority=4)
    assert result['changed'] and result['active'] is True
    assert logged(env) == ['swapon -p 4 %s' % env.swapfile]
    assert_swapfile(env.swapfile, MIB)


def test_resize_of_active_file_swaps_off_only_this_file(env, monkeypatch):
    run(env, monkeypatch, size='1M')
    mark_active(env, MIB, used_kib=100)
    fake_tool(env, 'swapon')
    fake_tool(env, 'swapoff')
    use_fake_tools(env, monkeypatch)
    result = run(env, monkeypatch, size='2M', active=True)
    assert result['resized'] and result['active'] is True
    assert logged(env) == ['swapoff %s' % env.swapfile, 'swapon %s' % env.swapfile]
    assert_swapfile(env.swapfile, 2 * MIB)
    assert os.listdir(env.swapdir) == ['swapfile']


def test_resize_refused_when_used_swap_does_not_fit_in_memavailable(env, monkeypatch):
    run(env, monkeypatch, size='1M')
    mark_active(env, MIB, used_kib=4097)  # MemAvailable is 4096 kB
    fake_tool(env, 'swapon')
    fake_tool(env, 'swapoff')
    use_fake_tools(env, monkeypatch)
    before = snapshot(env)
    result = run(env, monkeypatch, size='2M', active=True)
    assert result['failed'] and 'MemAvailable' in result['msg'] and re.search(r'\bpath\b', result['msg'])
    assert logged(env) == []
    assert snapshot(env) == before


def test_failed_swapon_after_resize_restores_the_old_file(env, monkeypatch):
    run(env, monkeypatch, size='1M', priority=3)
    mark_active(env, MIB, priority=3)
    fake_tool(env, 'swapon', fail_when='-p 7')
    fake_tool(env, 'swapoff')
    use_fake_tools(env, monkeypatch)
    before = snapshot(env, directory_times=False)
    result = run(env, monkeypatch, size='2M', priority=7, active=True)
    assert result['failed'] and 'undone' in result['msg']
    assert logged(env) == ['swapoff %s' % env.swapfile, 'swapon -p 7 %s' % env.swapfile,
                           'swapon -p 3 %s' % env.swapfile]
    assert snapshot(env, directory_times=False) == before  # same inode, same bytes, fstab untouched, no leftovers


def test_priority_change_reactivates(env, monkeypatch):
    run(env, monkeypatch, size='1M')
    mark_active(env, MIB, priority=-2)
    fake_tool(env, 'swapon')
    fake_tool(env, 'swapoff')
    use_fake_tools(env, monkeypatch)
    result = run(env, monkeypatch, size='1M', priority=5, active=True)
    assert result['changed'] and not result['resized'] and not result['created']
    assert logged(env) == ['swapoff %s' % env.swapfile, 'swapon -p 5 %s' % env.swapfile]
    assert result['fstab'] == '%s none swap sw,pri=5 0 0' % env.swapfile
    assert read(env.fstab).endswith(result['fstab'].encode())


def test_absent_swaps_off_only_this_file(env, monkeypatch):
    run(env, monkeypatch, size='1M')
    mark_active(env, MIB, used_kib=8)
    fake_tool(env, 'swapon')
    fake_tool(env, 'swapoff')
    use_fake_tools(env, monkeypatch)
    result = run(env, monkeypatch, state='absent')
    assert result['removed'] and result['active'] is False
    assert logged(env) == ['swapoff %s' % env.swapfile]
    assert read(env.fstab) == ORIGINAL_FSTAB and os.listdir(env.swapdir) == []


def test_active_false_swaps_off_an_active_file(env, monkeypatch):
    run(env, monkeypatch, size='1M')
    mark_active(env, MIB)
    fake_tool(env, 'swapon')
    fake_tool(env, 'swapoff')
    use_fake_tools(env, monkeypatch)
    result = run(env, monkeypatch, size='1M', active=False)
    assert result['changed'] and result['active'] is False
    assert logged(env) == ['swapoff %s' % env.swapfile]
    assert_swapfile(env.swapfile, MIB)
