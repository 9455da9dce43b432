# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of lowmem.hardening.swapfile: no I/O, no root needed."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils.swapfile import (
    FileState,
    GIB,
    Host,
    MIB,
    Mount,
    Request,
    SPACE_MARGIN,
    SwapfileError,
    auto_size,
    directory_writers,
    filesystem_refusal,
    fill_method,
    format_size,
    fstab_escape,
    fstab_line,
    fstab_update,
    has_swap_signature,
    mount_for,
    parse_mountinfo,
    parse_size,
    plan,
    priority_matches,
    temp_prefix,
)
from ansible_collections.lowmem.hardening.plugins.module_utils.host import SwapArea


def SwapEntry(path, size, used, priority):
    """An active swap file as the host layer reads it from /proc/swaps."""
    return SwapArea(path, 'file', size, used, priority)


PAGE = 4096


# ---- size parsing -----------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    (4096, 4096),
    ('4096', 4096),
    ('4096B', 4096),
    ('1024K', 1024 * 1024),
    ('512M', 512 * MIB),
    ('512m', 512 * MIB),
    ('512MB', 512 * MIB),
    ('512MiB', 512 * MIB),
    ('1G', GIB),
    ('1.5GiB', 3 * GIB // 2),
    (' 2 G ', 2 * GIB),
    ('1T', 1024 * GIB),
    ('0.5K', 512),
    ('auto', 'auto'),
    ('AUTO', 'auto'),
])
def test_parse_size_accepts(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize('value', [
    '', 'abc', '1X', '1.5XiB', '-5M', '0', 0, -1, '1.2.3G', '1 G B', 'G', '1e9', '0.1K', '1.5',
    1.5, 1024.0, True, None, '1KiBB', '1iB',
])
def test_parse_size_rejects_naming_size(value):
    with pytest.raises(SwapfileError) as caught:
        parse_size(value)
    assert str(caught.value).startswith('size: ')


def test_format_size():
    assert format_size(3 * GIB // 2) == '1.50 GiB (1610612736 bytes)'
    assert format_size(GIB + 3 * MIB) == '1.00 GiB (1076887552 bytes)'
    assert format_size(GIB) == '1 GiB (1073741824 bytes)'
    assert format_size(512) == '512 bytes'


# ---- the auto rule ----------------------------------------------------------

@pytest.mark.parametrize('mem_total, space, expected', [
    (512 * MIB, 100 * GIB, GIB),              # small RAM: doubled
    (2 * GIB, 100 * GIB, 4 * GIB),            # the limit itself is still doubled
    (2 * GIB + MIB, 100 * GIB, 2 * GIB + MIB),  # above 2 GiB: equal to RAM
    (6 * GIB, 100 * GIB, 6 * GIB),
    (32 * GIB, 100 * GIB, 8 * GIB),           # at most 8 GiB
    (4 * GIB, 3 * GIB, 3 * GIB // 2),         # at most half of the space
    (GIB, GIB + 3 * MIB + 5, GIB // 2 + MIB),  # rounded down to a whole MiB
    (1000 * 1024 + 1, 100 * GIB, 1 * MIB),    # 2 x 1000.001 KiB = 1.95 MiB -> 1 MiB
    (GIB, 0, 0),
])
def test_auto_size(mem_total, space, expected):
    assert auto_size(mem_total, space) == expected


# ---- /proc/self/mountinfo ------------------------------------------------------

MOUNTINFO = (b'27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n'
             b'30 27 0:27 / /tmp rw,nosuid - tmpfs tmpfs rw\n'
             b'31 27 0:28 / /srv/my\\040data rw shared:5 - xfs /dev/vdb rw\n'
             b'32 27 0:29 / /media ro,relatime - btrfs /dev/vdc ro\n'
             b'33 27 0:30 / /tmp rw - overlay overlay rw\n')


def test_parse_mountinfo_and_longest_prefix():
    mounts = parse_mountinfo(MOUNTINFO)
    assert [m.fstype for m in mounts] == ['ext4', 'tmpfs', 'xfs', 'btrfs', 'overlay']
    assert mount_for(mounts, b'/').fstype == 'ext4'
    assert mount_for(mounts, b'/var/lib').fstype == 'ext4'
    assert mount_for(mounts, b'/srv/my data/swap').fstype == 'xfs'
    assert mount_for(mounts, b'/srv/my').fstype == 'ext4'
    assert mount_for(mounts, b'/tmpfoo').fstype == 'ext4'  # a prefix of the name is not a parent
    assert mount_for(mounts, b'/tmp').fstype == 'overlay'   # stacked: the last one is visible
    assert 'ro' in mount_for(mounts, b'/media/x').options
    assert mount_for([], b'/x') is None


@pytest.mark.parametrize('fstype', ['tmpfs', 'overlay', 'nfs', 'nfs4', 'cifs', 'squashfs', 'ramfs',
                                    'zfs', 'fuse.sshfs', 'fuseblk'])
def test_filesystems_without_swap_are_refused(fstype):
    refusal = filesystem_refusal(Mount(b'/data', fstype, ['rw']))
    assert fstype in refusal and '/data' in refusal


@pytest.mark.parametrize('fstype', ['ext4', 'ext3', 'xfs', 'btrfs', 'f2fs'])
def test_local_filesystems_are_accepted(fstype):
    assert filesystem_refusal(Mount(b'/', fstype, ['rw'])) is None


@pytest.mark.parametrize('method, fstype, expected', [
    ('auto', 'ext4', ('fallocate', False)),
    ('auto', 'xfs', ('fallocate', False)),
    ('auto', 'ext3', ('zeros', False)),
    ('auto', 'btrfs', ('zeros', True)),
    ('fallocate', 'btrfs', ('fallocate', True)),
    ('dd', 'ext4', ('zeros', False)),
    ('fallocate', 'f2fs', ('fallocate', False)),
])
def test_fill_method(method, fstype, expected):
    assert fill_method(method, fstype) == expected


def test_swap_signature_sits_at_the_end_of_the_first_page():
    header = bytearray(PAGE)
    assert not has_swap_signature(bytes(header), PAGE)
    header[PAGE - 10:] = b'SWAPSPACE2'
    assert has_swap_signature(bytes(header), PAGE)
    assert not has_swap_signature(bytes(header), 16384)  # another page size, another offset
    assert not has_swap_signature(b'SWAPSPACE2', PAGE)  # a short file


@pytest.mark.parametrize('wanted, active, expected', [
    (None, -2, True), (None, 5, True), (-1, -2, True), (-1, 0, False), (5, 5, True), (5, -2, False), (0, 0, True),
])
def test_priority_matches(wanted, active, expected):
    assert priority_matches(wanted, active) is expected


def test_temp_prefix_is_hidden_and_recognisable():
    assert temp_prefix('swapfile') == '.swapfile.lowmem-tmp.'


# ---- fstab ------------------------------------------------------------------

LINE = fstab_line('/swapfile', None)


def test_fstab_line():
    assert LINE == b'/swapfile none swap sw 0 0'
    assert fstab_line('/swapfile', 10) == b'/swapfile none swap sw,pri=10 0 0'
    assert fstab_line('/swapfile', -1) == b'/swapfile none swap sw,pri=-1 0 0'
    assert fstab_line('/var/my swap', None) == b'/var/my\\040swap none swap sw 0 0'
    assert fstab_escape(b'a\tb\\c') == b'a\\011b\\134c'


ORIGINALS = [
    pytest.param(b'', id='empty'),
    pytest.param(b'# /etc/fstab: static file system information.\n'
                 b'#\n'
                 b'# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n'
                 b'UUID=1234-abcd /               ext4    errors=remount-ro 0       1\n', id='comments'),
    pytest.param(b'/dev/vda1\t/\text4\tdefaults\t0\t1\n/dev/vda2\tnone\tswap\tsw\t0\t0\n', id='tabs'),
    pytest.param(b'/dev/vda1 / ext4 defaults 0 1\r\n# swap\r\n', id='crlf'),
    pytest.param(b'/dev/vda1 / ext4 defaults 0 1\nproc /proc proc defaults 0 0', id='no-final-newline'),
    pytest.param(b'/dev/vda1 / ext4 defaults 0 1\r\nproc /proc proc defaults 0 0', id='crlf-no-final-newline'),
    pytest.param(b'UUID=5678-ef01 none swap sw,pri=5 0 0\n/other/swapfile none swap sw 0 0\n'
                 b'#/swapfile none swap sw 0 0\n/swapfile.old none swap sw 0 0\n', id='other-swap-entries'),
    pytest.param(b'\n\n  \n', id='blank-lines'),
    pytest.param(b'LABEL=caf\xe9 / ext4 defaults 0 1\n', id='not-utf8'),
]


@pytest.mark.parametrize('original', ORIGINALS)
def test_fstab_append_then_remove_gives_back_the_original(original):
    added = fstab_update(original, '/swapfile', LINE)
    assert added.startswith(original)
    assert [line.rstrip(b'\r') for line in added.split(b'\n')].count(LINE) == 1
    assert fstab_update(added, '/swapfile', LINE) == added
    assert fstab_update(added, '/swapfile', None) == original


def test_fstab_append_uses_the_files_line_ending():
    assert fstab_update(b'a\r\nb\r\n', '/swapfile', LINE) == b'a\r\nb\r\n' + LINE + b'\r\n'
    assert fstab_update(b'a\nb', '/swapfile', LINE) == b'a\nb\n' + LINE
    assert fstab_update(b'', '/swapfile', LINE) == LINE + b'\n'


def test_fstab_equivalent_entry_with_tabs_is_left_alone():
    content = b'# hello\n/swapfile\tnone\tswap\tsw\t0\t0\n/dev/vda1 / ext4 defaults 0 1\n'
    assert fstab_update(content, '/swapfile', LINE) == content


def test_fstab_changed_priority_replaces_the_entry_in_place():
    content = b'# hello\r\n  /swapfile none swap sw 0 0\r\n/dev/vda2 none swap sw,pri=1 0 0\r\n'
    updated = fstab_update(content, '/swapfile', fstab_line('/swapfile', 7))
    assert updated == b'# hello\r\n/swapfile none swap sw,pri=7 0 0\r\n/dev/vda2 none swap sw,pri=1 0 0\r\n'


def test_fstab_duplicates_are_reduced_to_one():
    content = b'/swapfile none swap sw 0 0\nA\n/swapfile none swap sw,pri=3 0 0\nB\n'
    assert fstab_update(content, '/swapfile', LINE) == b'/swapfile none swap sw 0 0\nA\nB\n'


def test_fstab_remove_keeps_everything_else():
    content = (b'# /swapfile none swap sw 0 0\n'
               b'UUID=5678-ef01\tnone\tswap\tsw,pri=5\t0\t0\n'
               b'/swapfile none swap sw,pri=2 0 0\n'
               b'/swapfile2 none swap sw 0 0\n'
               b'/var/swapfile none swap sw 0 0\n')
    assert fstab_update(content, '/swapfile', None) == (
        b'# /swapfile none swap sw 0 0\n'
        b'UUID=5678-ef01\tnone\tswap\tsw,pri=5\t0\t0\n'
        b'/swapfile2 none swap sw 0 0\n'
        b'/var/swapfile none swap sw 0 0\n')


def test_fstab_remove_without_entry_is_identity():
    for original in (b'', b'a\n', b'a', b'a\r\n# /swapfile\r\n'):
        assert fstab_update(original, '/swapfile', None) == original


def test_fstab_matches_escaped_paths():
    content = b'/var/my\\040swap none swap sw 0 0\n/var/my none swap sw 0 0\n'
    assert fstab_update(content, '/var/my swap', None) == b'/var/my none swap sw 0 0\n'


# ---- planning ---------------------------------------------------------------

MISSING = FileState('missing', 0, False, None, None)


def swapfile_state(size, mode=0o600, uid=0, is_swap=True):
    return FileState('file', size, is_swap, mode, uid)


def host(**changes):
    values = dict(page_size=PAGE, mem_total=GIB, mem_available=GIB, free=10 * GIB, directory_exists=True,
                  directory_writers='', mount=Mount(b'/', 'ext4', ['rw']), file=MISSING, swap=None, fstab=b'# fstab\n', stale=[])
    values.update(changes)
    return Host(**values)


def request(**changes):
    values = dict(path='/swapfile', state='present', size=GIB, priority=None, fstab=True, active=True)
    values.update(changes)
    return Request(**values)


def test_plan_create():
    result = plan(request(), host())
    assert result.write_size == GIB and result.created and not result.resized and result.changed
    assert result.swapon and not result.swapoff and not result.remove
    assert result.fstab_after == b'# fstab\n/swapfile none swap sw 0 0\n'
    assert result.fstab_line == '/swapfile none swap sw 0 0'
    assert (result.size, result.active) == (GIB, True)


def test_plan_nothing_to_do():
    current = host(file=swapfile_state(GIB), swap=SwapEntry(b'/swapfile', GIB, 0, -2),
                   fstab=b'/swapfile none swap sw 0 0\n')
    result = plan(request(), current)
    assert not result.changed
    assert result.write_size is None and not result.swapon and not result.swapoff and not result.fix_mode


def test_plan_inactive_file_gets_swapped_on_only():
    result = plan(request(), host(file=swapfile_state(GIB), fstab=b'/swapfile none swap sw 0 0\n'))
    assert result.changed and result.swapon and result.write_size is None and not result.created


def test_plan_resize_of_active_file_swaps_off_only_when_it_fits():
    active = SwapEntry(b'/swapfile', 2 * GIB, 300 * MIB, -2)
    result = plan(request(), host(file=swapfile_state(2 * GIB), swap=active, mem_available=400 * MIB))
    assert result.resized and not result.created and result.write_size == GIB
    assert result.swapoff and result.swapon
    with pytest.raises(SwapfileError) as caught:
        plan(request(), host(file=swapfile_state(2 * GIB), swap=active, mem_available=200 * MIB))
    assert 'MemAvailable' in str(caught.value) and str(caught.value).startswith('path: ')


def test_plan_priority_change_reactivates():
    active = SwapEntry(b'/swapfile', GIB, 0, -2)
    result = plan(request(priority=5), host(file=swapfile_state(GIB), swap=active))
    assert result.swapoff and result.swapon and result.write_size is None
    assert result.fstab_line == '/swapfile none swap sw,pri=5 0 0'
    default_priority = host(file=swapfile_state(GIB), swap=active, fstab=b'/swapfile none swap sw,pri=-1 0 0\n')
    assert not plan(request(priority=-1), default_priority).changed


def test_plan_active_false_swaps_off():
    active = SwapEntry(b'/swapfile', GIB, 0, -2)
    result = plan(request(active=False, fstab=False), host(file=swapfile_state(GIB), swap=active, fstab=b''))
    assert result.swapoff and not result.swapon and not result.active and result.fstab_line is None


def test_plan_fixes_a_readable_swapfile():
    result = plan(request(), host(file=swapfile_state(GIB, mode=0o644), swap=SwapEntry(b'/swapfile', GIB, 0, -2),
                                  fstab=b'/swapfile none swap sw 0 0\n'))
    assert result.fix_mode and result.changed and result.write_size is None


def test_plan_stale_temporaries_are_removed():
    result = plan(request(), host(file=swapfile_state(GIB), swap=SwapEntry(b'/swapfile', GIB, 0, -2),
                                  fstab=b'/swapfile none swap sw 0 0\n', stale=[b'/.swapfile.lowmem-tmp.ab']))
    assert result.changed and result.remove_stale == [b'/.swapfile.lowmem-tmp.ab']


def test_plan_absent():
    current = host(file=swapfile_state(GIB), swap=SwapEntry(b'/swapfile', GIB, 10 * MIB, -2),
                   fstab=b'# x\n/swapfile none swap sw 0 0\n')
    result = plan(request(state='absent', size=None), current)
    assert result.swapoff and result.remove and result.removed and result.changed
    assert result.fstab_after == b'# x\n' and result.fstab_line is None and result.size == 0
    assert not plan(request(state='absent', size=None), host()).changed


def test_plan_auto_size_counts_the_existing_file_as_available():
    existing = swapfile_state(GIB)
    result = plan(request(size='auto'), host(mem_total=4 * GIB, free=2 * GIB + 6 * MIB, file=existing,
                                             fstab=b'/swapfile none swap sw 0 0\n'))
    # half of (2 GiB + 6 MiB free + 1 GiB file) = 1.5 GiB + 3 MiB
    assert result.size == 3 * GIB // 2 + 3 * MIB and result.resized
    # after that run the file took 0.5 GiB + 3 MiB of the free space: same answer, nothing to do
    grown = 3 * GIB // 2 + 3 * MIB
    again = plan(request(size='auto'), host(mem_total=4 * GIB, free=3 * GIB // 2 + 3 * MIB, file=swapfile_state(grown),
                                            swap=SwapEntry(b'/swapfile', grown, 0, -2),
                                            fstab=b'/swapfile none swap sw 0 0\n'))
    assert again.size == grown and not again.changed


@pytest.mark.parametrize('changes, req, param, words', [
    (dict(file=FileState('directory', 0, False, None, None)), {}, 'path', 'directory'),
    (dict(file=FileState('symlink', 0, False, None, None)), {}, 'path', 'symlink'),
    (dict(file=FileState('block device', 0, False, None, None)), {}, 'path', 'block device'),
    (dict(file=swapfile_state(GIB, is_swap=False)), {}, 'path', 'not a swap file'),
    (dict(file=swapfile_state(GIB, is_swap=False)), dict(state='absent', size=None), 'path', 'not a swap file'),
    (dict(mount=Mount(b'/run', 'tmpfs', ['rw'])), {}, 'path', 'tmpfs'),
    (dict(mount=Mount(b'/', 'overlay', ['rw'])), {}, 'path', 'overlay'),
    (dict(mount=Mount(b'/', 'ext4', ['ro'])), {}, 'path', 'read-only'),
    (dict(directory_exists=False), {}, 'path', 'does not exist'),
    ({}, dict(size=10 * PAGE - 1), 'size', 'minimum'),
    (dict(mem_total=0), dict(size='auto'), 'size', 'auto'),
    (dict(free=GIB + SPACE_MARGIN - 1), {}, 'size', 'margin'),
    (dict(free=GIB + SPACE_MARGIN - 1, file=swapfile_state(GIB // 2)), {}, 'size', 'old file stays'),
])
def test_plan_refusals_name_the_parameter(changes, req, param, words):
    with pytest.raises(SwapfileError) as caught:
        plan(request(**req), host(**changes))
    assert str(caught.value).startswith(param + ': ')
    assert words in str(caught.value)


def test_plan_margin_is_exact():
    assert plan(request(), host(free=GIB + SPACE_MARGIN)).write_size == GIB
    assert plan(request(size=10 * PAGE), host()).write_size == 10 * PAGE


@pytest.mark.parametrize('mode, uid, writers', [
    (0o755, 0, ''),
    (0o700, 0, ''),
    (0o1777, 0, 'its group and everyone'),
    (0o775, 0, 'its group'),
    (0o755, 1000, 'its owner (uid 1000)'),
    (0o757, 1000, 'its owner (uid 1000) and everyone'),
    (0o555, 1000, ''),
])
def test_directory_writers(mode, uid, writers):
    assert directory_writers(mode, uid) == writers


def test_plan_refuses_a_directory_others_can_write():
    with pytest.raises(SwapfileError) as exc:
        plan(request(path='/tmp/swapfile'), host(directory_writers='everyone'))
    assert str(exc.value).startswith('path: the directory of /tmp/swapfile is writable by everyone')
