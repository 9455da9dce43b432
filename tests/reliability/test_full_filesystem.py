# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A swap file on a filesystem that is, or becomes, too full: refused or undone, nothing left behind.

The filesystems are small ext4 images on loop devices, so "full" is real: the kernel answers ENOSPC.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys

import pytest

from ansible_collections.lowmem.hardening.tests.reliability.helpers import (
    COLLECTIONS_DIR,
    MIB,
    RUN_LIMIT,
    SwapHost,
    failed,
    tree,
)

MARGIN = 64 * MIB  # the free space the module keeps beyond the file (SPACE_MARGIN)
TEMPORARY = '.swapfile.lowmem-tmp.'


def free_bytes(directory):
    vfs = os.statvfs(directory)
    return vfs.f_bavail * vfs.f_frsize


def fstab_state(path='/etc/fstab'):
    """This machine's fstab as it is: read only, to prove it stays as it was."""
    if not os.path.exists(path):
        return None
    st = os.stat(path)
    with open(path, 'rb') as handle:
        return (st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, hashlib.sha256(handle.read()).hexdigest())


def fstab_names(directory='/etc'):
    return sorted(name for name in os.listdir(directory) if 'fstab' in name)


def ansible_cli(work, module_args):
    """`ansible localhost -m lowmem.hardening.swapfile -a ARGS` from the collection copy; (rc, status, result)."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)  # the collection comes from ANSIBLE_COLLECTIONS_PATH, as for a user
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_DIR,
        ANSIBLE_HOME=os.path.join(work, 'ansible-home'),
        ANSIBLE_LOCAL_TEMP=os.path.join(work, 'ansible-local-tmp'),
        ANSIBLE_REMOTE_TMP=os.path.join(work, 'ansible-remote-tmp'),
        ANSIBLE_LOCALHOST_WARNING='0',
        ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
        ANSIBLE_NOCOLOR='1',
    )
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible')
    process = subprocess.run([ansible, 'localhost', '-m', 'lowmem.hardening.swapfile', '-a', module_args],
                             cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=RUN_LIMIT, check=False)
    # The ad hoc callback ends with "localhost | FAILED! => {JSON}".
    match = re.search(r'^localhost \| ([A-Z]+!?) => ', process.stdout.decode(), re.M)
    assert match, (process.stdout, process.stderr)
    return process.returncode, match.group(1), json.loads(process.stdout.decode()[match.end():])


def test_cli_refuses_a_file_bigger_than_the_filesystem(ext4, runner):
    mount_point = ext4(64)
    before = tree(mount_point)
    real_fstab, real_names = fstab_state(), fstab_names()
    rc, status, result = ansible_cli(runner.work, 'path=%s/swapfile size=200M active=false fstab=false' % mount_point)
    assert (rc, status) == (2, 'FAILED!'), result
    assert result['msg'].startswith('size: 200 MiB (209715200 bytes) does not fit'), result['msg']
    assert sorted(os.listdir(mount_point)) == ['lost+found']  # no file, no temporary
    assert tree(mount_point) == before
    assert fstab_state() == real_fstab and fstab_names() == real_names


def test_a_size_that_fits_only_without_the_margin_is_refused(ext4, runner, root):
    mount_point = ext4(64)
    host = SwapHost(mount_point, root, runner)
    free = free_bytes(mount_point)
    size = (free - 8 * MIB) // MIB * MIB
    assert size < free < size + MARGIN  # the file alone would fit
    before = tree(mount_point, root)
    result = failed(host.run(size=size))
    assert result['msg'].startswith('size: %d MiB (%d bytes) does not fit' % (size // MIB, size)), result['msg']
    assert 'plus a 64 MiB (67108864 bytes) margin' in result['msg']
    assert tree(mount_point, root) == before


@pytest.mark.parametrize('method, point', [('dd', 'write'), ('fallocate', 'fallocate')])
def test_filesystem_filling_up_during_allocation_is_undone(ext4, runner, root, method, point):
    """Room enough when the module checks; another writer fills the disk before it allocates."""
    mount_point = ext4(160)
    host = SwapHost(mount_point, root, runner)
    size = 32 * MIB
    assert free_bytes(mount_point) >= size + MARGIN  # the module's check passes
    before = tree(root)
    process = host.start(size=size, method=method, interrupt=dict(at=point, match=TEMPORARY, signal='STOP'))
    assert runner.wait_stopped(process), runner.finish(process)
    temporaries = [name for name in os.listdir(mount_point) if name.startswith(TEMPORARY)]
    assert len(temporaries) == 1 and not os.path.exists(host.path)
    fill(os.path.join(mount_point, 'filler'))
    process.send_signal(signal.SIGCONT)
    result = failed(runner.finish(process))
    assert 'No space left on device' in result['msg'] and 'Everything this run changed was undone' in result['msg']
    assert sorted(os.listdir(mount_point)) == ['filler', 'lost+found']  # no file at path, no temporary
    assert tree(root) == before  # fstab untouched


def fill(path):
    """Write zeros until the filesystem has no block left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for chunk in (MIB, 4096):
            zeros = b'\0' * chunk
            while True:
                try:
                    os.write(fd, zeros)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        os.fsync(fd)
    finally:
        os.close(fd)
