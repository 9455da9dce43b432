# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The swapfile module edits a real fstab file: only its own line changes, and it gives the bytes back.

The line editing itself is unit-tested (tests/unit/plugins/module_utils/test_swapfile.py), and
tests/unit/plugins/modules/test_swapfile.py covers appending to a CRLF file without a final newline
and removing again. Here, whole runs in real processes cover what those leave out: tab-separated
files, a changed priority in the middle of the file, fstab=false, an equivalent line left alone,
duplicates, an escaped path, other swap entries (a UUID partition, a longer path, a comment).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest

from ansible_collections.lowmem.hardening.tests.reliability.helpers import (
    MIB,
    SwapHost,
    assert_swapfile,
    read,
    succeeded,
    temporaries,
    write,
)

ORIGINALS = [
    pytest.param(b'# <file system>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>\n'
                 b'UUID=1234-abcd\t/\text4\terrors=remount-ro\t0\t1\n'
                 b'UUID=5678-ef01\tnone\tswap\tsw\t0\t0\n'
                 b'#@PATH@ none swap sw 0 0\n'
                 b'@PATH@2 none swap sw 0 0\n', id='tabs-comments-other-swaps'),
    pytest.param(b'LABEL=caf\xe9\t/\text4\tdefaults\t0\t1\r\n'
                 b'/dev/disk/by-uuid/5678-ef01 none swap sw,pri=5 0 0\r\n'
                 b'# end', id='crlf-no-final-newline-not-utf8'),
    pytest.param(b'\n   \n/dev/vda1 / ext4 defaults 0 1\n\n', id='blank-lines'),
]


def lines(data):
    return data.splitlines(True)


def our_line(host, options='sw'):
    return ('%s none swap %s 0 0' % (host.path, options)).encode()


def others(host, data):
    """Every line but ours, with its line ending."""
    return [line for line in lines(data) if not line.startswith(host.path.encode() + b' ')]


@pytest.mark.parametrize('template', ORIGINALS)
def test_only_our_line_changes_and_the_bytes_come_back(ext4, runner, root, template):
    host = SwapHost(ext4(128), root, runner, fstab=b'')
    original = template.replace(b'@PATH@', host.path.encode())
    write(host.fstab, original, 0o644)

    succeeded(host.run(size='1M'))
    added = read(host.fstab)
    ending = b'\r\n' if b'\r\n' in original else b'\n'  # the file's own line ending
    if original.endswith(b'\n'):
        assert added == original + our_line(host) + ending
    else:  # and without a final newline it stays so
        assert added == original + ending + our_line(host)

    succeeded(host.run(size='1M', priority=7))
    reprioritised = read(host.fstab)
    assert others(host, reprioritised) == others(host, added)
    assert [line.rstrip(b'\r\n') for line in lines(reprioritised)].count(our_line(host, 'sw,pri=7')) == 1
    assert len(lines(reprioritised)) == len(lines(added))

    succeeded(host.run(size='1M', priority=7, fstab=False))
    assert read(host.fstab) == original
    assert_swapfile(host.path, MIB)

    succeeded(host.run(size='1M'))
    succeeded(host.run(state='absent'))
    assert read(host.fstab) == original
    assert not os.path.exists(host.path)
    assert temporaries(os.path.dirname(host.fstab)) == []


def test_an_equivalent_line_is_left_as_it_is(ext4, runner, root):
    host = SwapHost(ext4(128), root, runner, fstab=b'')
    original = (b'UUID=1234-abcd / ext4 defaults 0 1\r\n'
                + host.path.encode() + b'\tnone\tswap\tsw\t0\t0\r\n'
                b'UUID=5678-ef01 none swap sw 0 0\r\n')
    write(host.fstab, original, 0o644)
    inode = os.stat(host.fstab).st_ino
    result = succeeded(host.run(size='1M'))
    assert result['created'] and result['fstab'] == our_line(host).decode()
    assert read(host.fstab) == original and os.stat(host.fstab).st_ino == inode  # not even rewritten
    assert not succeeded(host.run(size='1M'))['changed']


def test_duplicates_become_one_line_in_place(ext4, runner, root):
    host = SwapHost(ext4(128), root, runner, fstab=b'')
    path = host.path.encode()
    write(host.fstab, b'# first\n' + path + b' none swap sw,pri=1 0 0\nUUID=5678-ef01 none swap sw 0 0\n'
          + path + b' none swap sw 0 0\n# last\n', 0o644)
    succeeded(host.run(size='1M', priority=3))
    assert read(host.fstab) == (b'# first\n' + path + b' none swap sw,pri=3 0 0\nUUID=5678-ef01 none swap sw 0 0\n'
                                b'# last\n')


def test_a_path_with_a_space_is_escaped_and_removed_again(ext4, runner, root):
    mount_point = ext4(128)
    directory = os.path.join(mount_point, 'my swap')
    os.mkdir(directory)
    host = SwapHost(mount_point, root, runner)
    original = read(host.fstab)
    path = os.path.join(directory, 'swapfile')
    result = succeeded(host.run(path=path, size='1M'))
    escaped = path.replace(' ', '\\040')
    assert result['fstab'] == '%s none swap sw 0 0' % escaped
    assert read(host.fstab) == original + ('\r\n%s none swap sw 0 0' % escaped).encode()
    succeeded(host.run(path=path, state='absent'))
    assert read(host.fstab) == original and os.listdir(directory) == []
