# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake sysfs mounted on the host: it must behave as the kernel's parameter files do.

Needs root, /dev/fuse and an interpreter with Debian's python3-pyfuse3 (FAKESYSFS_PYTHON,
default /usr/bin/python3); without them the tests are skipped with the reason, unless
LOWMEM_FAKESYSFS_REQUIRED=1 (set by `make fakesysfs`), where they fail instead.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import errno
import functools
import os
import stat
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fakesysfs.py')
FUSE_PYTHON = os.environ.get('FAKESYSFS_PYTHON', '/usr/bin/python3')
DEFAULTS = {'adj': '0,1,6,12\n', 'cost': '32\n', 'debug_level': '1\n', 'minfree': '1536,2048,4096,16384\n'}
NOBODY = 65534


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


def _skip_or_fail():
    reason = missing_requirement()
    if reason and os.environ.get('LOWMEM_FAKESYSFS_REQUIRED') == '1':
        pytest.fail('LOWMEM_FAKESYSFS_REQUIRED=1 but ' + reason, pytrace=False)
    if reason:
        pytest.skip(reason)


class Mount(object):
    """The server running in a subprocess, mounted at a temporary directory."""

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
def mount_dir():
    """A directory others may traverse (pytest's tmp_path is 0700), so uid 65534 reaches the mount."""
    _skip_or_fail()
    path = tempfile.mkdtemp(prefix='fakesysfs-test.')
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.fixture
def sysfs(mount_dir):
    mount = Mount(os.path.join(mount_dir, 'parameters'))
    mount.start()
    try:
        yield mount
    finally:
        mount.stop()


def test_starts_with_the_driver_defaults_as_root_owned_0644_files(sysfs):
    assert sorted(os.listdir(sysfs.path)) == sorted(DEFAULTS)
    for name, text in DEFAULTS.items():
        st = os.stat(sysfs.file(name))
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644, name
        assert (st.st_uid, st.st_gid) == (0, 0), name
        assert st.st_size == len(text), name
        assert sysfs.read(name) == text
    # cat reads up to st_size and then to end of file: the whole value.
    assert subprocess.check_output(['cat', sysfs.file('minfree')]) == b'1536,2048,4096,16384\n'


def test_a_write_replaces_the_whole_array_and_sets_its_size(sysfs):
    assert sysfs.write('minfree', '1\n') == 2
    assert sysfs.read('minfree') == '1\n'
    assert os.stat(sysfs.file('minfree')).st_size == 2
    sysfs.write('minfree', '100,200,300,400,500,600')
    assert sysfs.read('minfree') == '100,200,300,400,500,600\n'
    sysfs.write('adj', '0,1')
    assert sysfs.read('adj') == '0,1\n'


def test_a_write_without_truncation_still_replaces_the_value(sysfs):
    sysfs.write('adj', '9999', truncate=False)
    assert sysfs.read('adj') == '9999\n'
    assert subprocess.check_output(['cat', sysfs.file('adj')]) == b'9999\n'


def test_plain_files_would_keep_old_bytes_which_is_why_this_exists(tmp_path):
    plain = tmp_path / 'adj'
    plain.write_text(DEFAULTS['adj'])
    fd = os.open(str(plain), os.O_WRONLY)
    os.write(fd, b'9999')
    os.close(fd)
    assert plain.read_text() == '99996,12\n'


def test_truncate_is_accepted_and_changes_nothing(sysfs):
    os.truncate(sysfs.file('adj'), 0)
    assert sysfs.read('adj') == DEFAULTS['adj']


def test_a_bad_element_stores_the_earlier_ones_then_fails(sysfs):
    assert sysfs.failed_write('minfree', '5,6,x') == errno.EINVAL
    assert sysfs.read('minfree') == '5,6\n'
    assert sysfs.failed_write('adj', '3,,4') == errno.EINVAL
    assert sysfs.read('adj') == '3\n'
    assert sysfs.failed_write('adj', ' 4') == errno.EINVAL
    assert sysfs.read('adj') == '\n'


def test_a_seventh_value_stores_six_then_fails(sysfs):
    assert sysfs.failed_write('minfree', '1,2,3,4,5,6,7') == errno.EINVAL
    assert sysfs.read('minfree') == '1,2,3,4,5,6\n'


def test_out_of_range_values_fail(sysfs):
    assert sysfs.failed_write('adj', '0,32768') == errno.EINVAL
    assert sysfs.read('adj') == '0\n'
    assert sysfs.failed_write('minfree', '-1') == errno.EINVAL
    assert sysfs.read('minfree') == '\n'
    assert sysfs.failed_write('cost', '2147483648') == errno.EINVAL
    assert sysfs.read('cost') == '32\n'


def test_elements_parse_like_kstrto_base_0(sysfs):
    sysfs.write('minfree', '+5,010,0x10\n')
    assert sysfs.read('minfree') == '5,8,16\n'


def test_cost_and_debug_level_are_plain_integers(sysfs):
    sysfs.write('cost', '64\n')
    assert sysfs.read('cost') == '64\n'
    sysfs.write('debug_level', '0')
    assert sysfs.read('debug_level') == '0\n'
    assert sysfs.failed_write('debug_level', '-1') == errno.EINVAL
    assert sysfs.failed_write('cost', '1,2') == errno.EINVAL
    assert sysfs.read('debug_level') == '0\n' and sysfs.read('cost') == '64\n'


def _as_nobody(action, path):
    """Run action ('read' or 'write') on path as uid/gid 65534; return the errno name or 'ok'."""
    code = ("import errno, os, sys\n"
            "os.setgid(%d); os.setuid(%d)\n"
            "try:\n"
            "    if sys.argv[1] == 'read':\n"
            "        open(sys.argv[2]).read()\n"
            "    else:\n"
            "        fd = os.open(sys.argv[2], os.O_WRONLY); os.write(fd, b'1'); os.close(fd)\n"
            "    print('ok')\n"
            "except OSError as exc:\n"
            "    print(errno.errorcode[exc.errno])\n" % (NOBODY, NOBODY))
    return subprocess.check_output([sys.executable, '-c', code, action, path]).decode().strip()


def test_only_root_may_write_and_anyone_may_read(sysfs):
    assert _as_nobody('write', sysfs.file('minfree')) == 'EACCES'
    assert _as_nobody('read', sysfs.file('minfree')) == 'ok'
    assert sysfs.read('minfree') == DEFAULTS['minfree']


def test_a_restart_shows_the_defaults_again_like_a_reboot(sysfs):
    sysfs.write('adj', '9999')
    sysfs.write('cost', '16')
    sysfs.stop()
    sysfs.start()
    assert dict((name, sysfs.read(name)) for name in DEFAULTS) == DEFAULTS


def test_android_autodetection_converts_adj(mount_dir):
    mount = Mount(os.path.join(mount_dir, 'android'), '--autodetect')
    mount.start()
    try:
        mount.write('adj', '0,1,6,12')
        assert mount.read('adj') == '0,58,352,705\n'
    finally:
        mount.stop()
