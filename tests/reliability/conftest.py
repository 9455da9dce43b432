# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the reliability tests: a runner for real module processes, fake host roots, loop ext4.

The tests need root (the modules refuse to run otherwise; loop devices need it too), the tools of
tests/reliability/bindep.txt and a collection copy to run from. Without them they are skipped with
the reason, unless LOWMEM_RELIABILITY_REQUIRED=1 (set by `make reliability`): then they fail.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import subprocess

import pytest

from ansible_collections.lowmem.hardening.tests.reliability.helpers import (
    Runner,
    inside_collection_copy,
    which,
)

TOOLS = ('mkswap', 'losetup', 'mount', 'umount', 'mkfs.ext4')


def missing_requirement():
    if os.geteuid() != 0:
        return 'the modules run as root only, and loop devices need root'
    if not inside_collection_copy():
        return 'run from a collection copy (make reliability runs build/ansible_collections/lowmem/hardening)'
    missing = [tool for tool in TOOLS if which(tool) is None]
    if missing:
        return 'missing %s (make reliability installs tests/reliability/bindep.txt)' % ', '.join(missing)
    return None


@pytest.fixture(autouse=True)
def requirements():
    reason = missing_requirement()
    if reason and os.environ.get('LOWMEM_RELIABILITY_REQUIRED') == '1':
        pytest.fail('LOWMEM_RELIABILITY_REQUIRED=1 but ' + reason, pytrace=False)
    if reason:
        pytest.skip(reason)


@pytest.fixture
def runner(tmp_path):
    work = str(tmp_path / 'work')
    os.mkdir(work)
    started = Runner(work)
    yield started
    started.stop_all()


@pytest.fixture
def root(tmp_path):
    """The fake host's filesystem root; nothing else lives there, so snapshots of it are exact."""
    path = str(tmp_path / 'root')
    os.mkdir(path)
    return path


def _swapoff_under(directory):
    """Swap is kernel-wide: should a run ever have activated a file here, take it off before unmounting."""
    with open('/proc/swaps', 'rb') as swaps:
        for line in swaps.read().split(b'\n')[1:]:
            fields = line.split()
            if fields and fields[0].decode('utf-8', 'replace').startswith(directory + '/'):
                subprocess.call([which('swapoff'), fields[0]])


@pytest.fixture
def ext4(tmp_path, runner):
    """ext4(size_mib) -> the mount point of a fresh ext4 of that size on a loop device.

    No blocks are reserved for root (-m 0): what df shows free is what the module may use. Every
    mount is unmounted and its loop device detached at teardown, also when the test failed.
    """
    made = []

    def make(size_mib):
        number = len(made)
        image = str(tmp_path / ('ext4-%d.img' % number))
        mount_point = str(tmp_path / ('ext4-%d' % number))
        os.mkdir(mount_point)
        with open(image, 'wb') as handle:
            handle.truncate(size_mib * 1024 * 1024)
        subprocess.check_call([which('mkfs.ext4'), '-q', '-F', '-m', '0', image])
        device = subprocess.check_output([which('losetup'), '--find', '--show', image]).decode().strip()
        made.append([device, None])
        subprocess.check_call([which('mount'), '-t', 'ext4', device, mount_point])
        made[-1][1] = mount_point
        return mount_point

    yield make
    runner.stop_all()  # no module process may still hold a file on the mounts
    problems = []
    for device, mount_point in reversed(made):
        if mount_point is not None:
            _swapoff_under(mount_point)
            if subprocess.call([which('umount'), mount_point]) != 0:
                # detached from the tree now, released (and the loop device with it) when no longer busy
                subprocess.call([which('umount'), '--lazy', mount_point])
                problems.append('umount %s failed' % mount_point)
        if subprocess.call([which('losetup'), '-d', device]) != 0:
            problems.append('losetup -d %s failed' % device)
    assert not problems, problems
