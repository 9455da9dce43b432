# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake sysfs server run on the host, shared by the tests of this directory.

Needs root, /dev/fuse and an interpreter with Debian's python3-pyfuse3 (FAKESYSFS_PYTHON,
default /usr/bin/python3); without them the tests are skipped with the reason, unless
LOWMEM_FAKESYSFS_REQUIRED=1 (set by `make fakesysfs`), where they fail instead.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import functools
import os
import shutil
import subprocess
import tempfile
import time

import pytest

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fakesysfs.py')
FUSE_PYTHON = os.environ.get('FAKESYSFS_PYTHON', '/usr/bin/python3')


@functools.lru_cache(maxsize=None)
def missing_requirement():
    if os.geteuid() != 0:
        return 'mounting a FUSE file system with allow_other needs root'
    if not os.path.exists('/dev/fuse'):
        return '/dev/fuse does not exist'
    try:
        found = subprocess.call([FUSE_PYTHON, '-c', 'import pyfuse3, trio'], stderr=subprocess.DEVNULL) == 0
    except OSError:
        found = False
    if not found:
        return '%s cannot import pyfuse3 (Debian: apt-get install fuse3 python3-pyfuse3)' % FUSE_PYTHON
    return None


def skip_or_fail(reason):
    """Skip for a missing prerequisite, or fail when `make fakesysfs` says they are all required."""
    if reason and os.environ.get('LOWMEM_FAKESYSFS_REQUIRED') == '1':
        pytest.fail('LOWMEM_FAKESYSFS_REQUIRED=1 but ' + reason, pytrace=False)
    if reason:
        pytest.skip(reason)


class Mount(object):
    """The server running in a subprocess with the given options, mounted at path."""

    def __init__(self, path, *options):
        self.path = str(path)
        self.options = list(options)
        self.process = None

    def start(self):
        self.process = subprocess.Popen([FUSE_PYTHON, SERVER] + self.options + [self.path])
        deadline = time.monotonic() + 15
        while not os.path.ismount(self.path):
            if self.process.poll() is not None:
                raise AssertionError('fakesysfs exited with %d before mounting' % self.process.returncode)
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError('fakesysfs did not mount %s within 15 s' % self.path)
            time.sleep(0.02)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        finally:
            if os.path.ismount(self.path):
                subprocess.call(['fusermount3', '-u', self.path])
        assert self.process.returncode == 0, 'fakesysfs exited with %d' % self.process.returncode
        assert not os.path.ismount(self.path)

    def file(self, name):
        return os.path.join(self.path, name)

    def read(self, name):
        with open(self.file(name)) as f:
            return f.read()

    def texts(self):
        """Every parameter as the kernel would show it now."""
        return dict((name, self.read(name)) for name in os.listdir(self.path))

    def write(self, name, data, truncate=True):
        """One write(2), like `echo VALUE > FILE` (truncate) or systemd-tmpfiles' `w` lines (not)."""
        flags = os.O_WRONLY | (os.O_TRUNC if truncate else 0)
        fd = os.open(self.file(name), flags)
        try:
            return os.write(fd, data.encode('ascii'))
        finally:
            os.close(fd)

    def failed_write(self, name, data):
        with pytest.raises(OSError) as caught:
            self.write(name, data)
        return caught.value.errno


@pytest.fixture
def server_command():
    """The argv that starts the server, before its options and mount point."""
    skip_or_fail(missing_requirement())
    return [FUSE_PYTHON, SERVER]


@pytest.fixture
def mount_dir():
    """A directory others may traverse (pytest's tmp_path is 0700), so uid 65534 reaches the mount."""
    skip_or_fail(missing_requirement())
    path = tempfile.mkdtemp(prefix='fakesysfs-test.')
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.fixture
def mounted(mount_dir):
    """mounted(*options): start the server with these options; every one started is stopped at the end."""
    mounts = []

    def start(*options):
        mount = Mount(os.path.join(mount_dir, 'parameters%d' % len(mounts)), *options)
        mount.start()
        mounts.append(mount)
        return mount
    try:
        yield start
    finally:
        for mount in mounts:
            if mount.process.poll() is None:
                mount.stop()


@pytest.fixture
def sysfs(mounted):
    """The server with the driver's defaults and no option."""
    return mounted()
