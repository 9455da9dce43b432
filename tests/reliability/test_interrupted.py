# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs killed with SIGKILL half-way: the next run converges and leaves nothing behind.

Each run is a real process that sends itself SIGKILL at a chosen point (driver.py), so the point
is exact and the test needs no timing. What the killed run left is checked first, so that each
test is known to have interrupted the run where it says.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.lowmem.hardening.tests.reliability.helpers import (
    LMK_DEFAULTS,
    MIB,
    ORIGINAL_FSTAB,
    LmkHost,
    SwapHost,
    assert_swapfile,
    has_swap_signature,
    killed,
    read,
    succeeded,
    temporaries,
    tree,
)

TEMPORARY = '.swapfile.lowmem-tmp.'
SIZE = 64 * MIB


def swap_temporaries(host):
    return sorted(os.path.join(host.directory, name) for name in os.listdir(host.directory)
                  if name.startswith(TEMPORARY))


def assert_private(path):
    st = os.lstat(path)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 0, 0), path


def assert_converged(host, size):
    """path holds a complete swap file of size, fstab holds one line for it, and nothing else is left."""
    assert_swapfile(host.path, size)
    assert sorted(os.listdir(host.directory)) == ['lost+found', 'swapfile']
    assert read(host.fstab) == ORIGINAL_FSTAB + ('\r\n%s none swap sw 0 0' % host.path).encode()
    assert temporaries(os.path.dirname(host.fstab)) == []


# ---- swapfile --------------------------------------------------------------------

def _dd_half_way(host):
    run = killed(host.run(size='64M', method='dd', interrupt=dict(at='write', match=TEMPORARY, after=16 * MIB)))
    [temporary] = swap_temporaries(host)
    assert 0 < os.path.getsize(temporary) < SIZE  # part of the zeros
    return run


def _allocated_not_formatted(host):
    run = killed(host.run(size='64M', method='fallocate', interrupt=dict(at='after_fallocate', match=TEMPORARY)))
    [temporary] = swap_temporaries(host)
    assert os.path.getsize(temporary) == SIZE and not has_swap_signature(temporary)
    return run


def _formatted_not_renamed(host):
    run = killed(host.run(size='64M', interrupt=dict(at='rename', match=TEMPORARY)))
    [temporary] = swap_temporaries(host)
    assert os.path.getsize(temporary) == SIZE and has_swap_signature(temporary)
    return run


@pytest.mark.parametrize('interrupt', [_dd_half_way, _allocated_not_formatted, _formatted_not_renamed],
                         ids=['dd-half-way', 'allocated-not-formatted', 'formatted-not-renamed'])
def test_swapfile_killed_while_creating(ext4, runner, root, interrupt):
    host = SwapHost(ext4(256), root, runner)
    fstab_before = tree(os.path.dirname(host.fstab))
    interrupt(host)
    # killed before the rename: nothing at path, fstab untouched, the temporary private
    assert not os.path.lexists(host.path)
    assert tree(os.path.dirname(host.fstab)) == fstab_before
    for temporary in swap_temporaries(host):
        assert_private(temporary)
    result = succeeded(host.run(size='64M'))
    assert result['changed'] and result['created']
    assert_converged(host, SIZE)
    assert not succeeded(host.run(size='64M'))['changed']


def test_swapfile_killed_while_resizing_keeps_the_old_file(ext4, runner, root):
    host = SwapHost(ext4(256), root, runner)
    succeeded(host.run(size='16M'))
    old_inode = os.stat(host.path).st_ino
    # killed after the new file is complete and the old one has its backup name, before the swap
    killed(host.run(size='64M', interrupt=dict(at='rename', match=TEMPORARY)))
    assert_swapfile(host.path, 16 * MIB)
    assert os.stat(host.path).st_ino == old_inode
    backup, new = sorted(swap_temporaries(host), key=os.path.getsize)
    assert os.stat(backup).st_ino == old_inode  # a hard link to the old file
    assert os.path.getsize(new) == SIZE and has_swap_signature(new)
    assert_private(new)
    result = succeeded(host.run(size='64M'))
    assert result['changed'] and result['resized']
    assert_converged(host, SIZE)


def test_swapfile_killed_while_replacing_fstab(ext4, runner, root):
    """The file is in place; fstab is not replaced yet. Its temporary in /etc stays: see docs/security.md."""
    host = SwapHost(ext4(256), root, runner)
    killed(host.run(size='64M', interrupt=dict(at='atomic_move', match='fstab')))
    assert_swapfile(host.path, SIZE)
    assert read(host.fstab) == ORIGINAL_FSTAB
    [fstab_temporary] = temporaries(os.path.dirname(host.fstab))
    assert os.path.basename(fstab_temporary).startswith('.fstab.lowmem-tmp.')
    result = succeeded(host.run(size='64M'))
    assert result['changed'] and not result['created']
    assert_swapfile(host.path, SIZE)
    assert sorted(os.listdir(host.directory)) == ['lost+found', 'swapfile']
    assert read(host.fstab) == ORIGINAL_FSTAB + ('\r\n%s none swap sw 0 0' % host.path).encode()
    # inert (mount and swapon read /etc/fstab only), and nothing else is left
    assert temporaries(os.path.dirname(host.fstab)) == [fstab_temporary]


# ---- lowmemorykiller ----------------------------------------------------------------

def disabled_tmpfiles(params):
    return ('# Managed by lowmem.hardening.lowmemorykiller: written at boot to %s.\n'
            '# Local changes are overwritten on the next run.\n'
            'w %s/adj - - - - 9999\n'
            'w %s/minfree - - - - 1\n' % (params, params, params))


DISABLED = dict(LMK_DEFAULTS, adj='9999\n', minfree='1\n')


def assert_originals_saved(host):
    assert host.state()['paths'][host.params]['original'] == LMK_DEFAULTS
    assert stat.S_IMODE(os.stat(host.state_file).st_mode) == 0o600


def assert_no_temporaries(host):
    assert temporaries(*host.etc_directories()) == []


LMK_INTERRUPTS = [
    # between the two parameter writes: adj is new, minfree still old
    pytest.param(dict(at='sysfs_write', after=1), dict(LMK_DEFAULTS, adj='9999\n'), False, id='between-writes'),
    # every parameter written, the boot file not begun
    pytest.param(dict(at='mkstemp', match='tmpfiles.d/.lowmemorykiller.conf'), DISABLED, False,
                 id='before-boot-file'),
    # the boot file in place, the state file not yet updated (the second state write)
    pytest.param(dict(at='mkstemp', match='lowmem-hardening/.lowmemorykiller.', after=1), DISABLED, True,
                 id='before-final-state'),
]


@pytest.mark.parametrize('interrupt, texts_after_kill, boot_file_written', LMK_INTERRUPTS)
def test_lowmemorykiller_killed_while_applying(runner, root, interrupt, texts_after_kill, boot_file_written):
    host = LmkHost(root, runner)
    killed(host.run(state='disabled', persist='tmpfiles', interrupt=interrupt))
    assert host.texts() == texts_after_kill
    assert os.path.exists(host.files['tmpfiles']) == boot_file_written
    assert_originals_saved(host)  # saved before the first write
    assert_no_temporaries(host)

    again = succeeded(host.run(state='disabled', persist='tmpfiles'))
    assert again['changed'] is not boot_file_written  # a complete boot file is already right
    assert host.texts() == DISABLED
    assert host.boot_file('tmpfiles') == disabled_tmpfiles(host.params)
    assert_originals_saved(host)
    assert_no_temporaries(host)
    assert not succeeded(host.run(state='disabled', persist='tmpfiles'))['changed']

    succeeded(host.run(state='restored'))
    assert host.texts() == LMK_DEFAULTS
    assert not os.path.exists(host.files['tmpfiles']) and not os.path.exists(host.state_file)
    assert_no_temporaries(host)


def test_lowmemorykiller_killed_while_restoring_keeps_the_originals(runner, root):
    """Until the originals are back in the kernel, the state file must still hold them."""
    host = LmkHost(root, runner)
    succeeded(host.run(state='disabled', persist='tmpfiles'))
    killed(host.run(state='restored', interrupt=dict(at='sysfs_write', after=1)))
    assert host.texts() == dict(DISABLED, adj=LMK_DEFAULTS['adj'])  # adj restored, minfree not yet
    assert_originals_saved(host)
    succeeded(host.run(state='restored'))
    assert host.texts() == LMK_DEFAULTS
    assert not os.path.exists(host.files['tmpfiles']) and not os.path.exists(host.state_file)
    assert_no_temporaries(host)


def test_openrc_script_killed_before_it_is_executable_is_fixed(runner, root):
    """atomic_move creates the file 0644; killed before the module makes it 0755, OpenRC would skip it."""
    host = LmkHost(root, runner)
    killed(host.run(state='disabled', persist='openrc',
                    interrupt=dict(at='after_atomic_move', match='lowmemorykiller.start')))
    script = host.files['openrc']
    assert stat.S_IMODE(os.stat(script).st_mode) == 0o644
    result = succeeded(host.run(state='disabled', persist='openrc'))
    assert result['changed'] is True
    st = os.stat(script)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o755, 0, 0)
    assert not succeeded(host.run(state='disabled', persist='openrc'))['changed']
    assert_no_temporaries(host)


def test_lowmemorykiller_killed_inside_the_boot_file_write(runner, root):
    """The complete temporary is not renamed yet. It stays, inert: see docs/security.md."""
    host = LmkHost(root, runner)
    killed(host.run(state='disabled', persist='tmpfiles',
                    interrupt=dict(at='atomic_move', match='tmpfiles.d/lowmemorykiller.conf')))
    [temporary] = temporaries(*host.etc_directories())
    assert os.path.dirname(temporary) == os.path.dirname(host.files['tmpfiles'])
    assert not temporary.endswith('.conf')  # systemd-tmpfiles reads *.conf only
    assert not os.path.exists(host.files['tmpfiles'])
    assert succeeded(host.run(state='disabled', persist='tmpfiles'))['changed']
    assert host.boot_file('tmpfiles') == disabled_tmpfiles(host.params)
    assert_originals_saved(host)
    assert temporaries(*host.etc_directories()) == [temporary]
