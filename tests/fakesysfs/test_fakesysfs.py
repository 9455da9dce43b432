# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake sysfs mounted on the host: it must behave as the kernel's parameter files do.

The server and its prerequisites: conftest.py.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import errno
import os
import stat
import subprocess
import sys

import pytest

DEFAULTS = {'adj': '0,1,6,12\n', 'cost': '32\n', 'debug_level': '1\n', 'minfree': '1536,2048,4096,16384\n'}
NOBODY = 65534


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
    # A failed first element leaves no entry, which reads back as nothing at all (no newline).
    assert sysfs.failed_write('adj', ' 4') == errno.EINVAL
    assert sysfs.read('adj') == ''
    assert os.stat(sysfs.file('adj')).st_size == 0


def test_a_seventh_value_stores_six_then_fails(sysfs):
    assert sysfs.failed_write('minfree', '1,2,3,4,5,6,7') == errno.EINVAL
    assert sysfs.read('minfree') == '1,2,3,4,5,6\n'


def test_out_of_range_values_fail_with_erange(sysfs):
    assert sysfs.failed_write('adj', '0,32768') == errno.ERANGE
    assert sysfs.read('adj') == '0\n'
    assert sysfs.failed_write('cost', '2147483648') == errno.ERANGE
    assert sysfs.read('cost') == '32\n'
    # No number at all for an unsigned type: EINVAL. minfree is the staging driver's uint here.
    assert sysfs.failed_write('minfree', '-1') == errno.EINVAL
    assert sysfs.read('minfree') == ''


def test_type_makes_a_parameter_signed_as_in_the_test_bed(mounted):
    signed = mounted('--type', 'minfree=int')
    signed.write('minfree', '-5')
    assert signed.read('minfree') == '-5\n'
    assert signed.failed_write('minfree', '4294967295') == errno.ERANGE


def test_a_write_of_nothing_changes_nothing(sysfs):
    assert sysfs.write('minfree', '') == 0
    assert sysfs.read('minfree') == DEFAULTS['minfree']


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


# -- Android's oom_adj autodetection (--android; --autodetect is the older name) --------

@pytest.mark.parametrize('option', ['--android', '--autodetect'])
def test_android_autodetection_converts_oom_adj_values(mounted, option):
    android = mounted(option)
    android.write('adj', '0,1,6,12')
    assert android.read('adj') == '0,58,352,705\n'
    android.write('adj', '0,15')
    assert android.read('adj') == '0,1000\n'
    # Already oom_score_adj values (last one above 15): stored as written.
    android.write('adj', '0,58,352,705')
    assert android.read('adj') == '0,58,352,705\n'
    # minfree is never converted.
    android.write('minfree', '1,2,3')
    assert android.read('minfree') == '1,2,3\n'


def test_android_autodetection_also_converts_what_a_failed_write_stored(mounted):
    android = mounted('--android')
    assert android.failed_write('adj', '1,2,x') == errno.EINVAL
    assert android.read('adj') == '58,117\n'


def test_mainline_does_not_convert(sysfs):
    sysfs.write('adj', '0,1,6,12')
    assert sysfs.read('adj') == '0,1,6,12\n'


# -- vendor parameters (--vendor NAME=VALUE) -----------------------------------------------

VENDOR = ['--vendor', 'enable_adaptive_lmk=Y', '--vendor', 'vmpressure_file_min=81250',
          '--vendor', 'lmk_fast_run=0', '--vendor', 'adj_table=1,2,3']


def test_vendor_parameters_are_files_with_their_values(mounted):
    vendor = mounted(*VENDOR)
    assert vendor.texts() == dict(DEFAULTS, enable_adaptive_lmk='Y\n', vmpressure_file_min='81250\n',
                                  lmk_fast_run='0\n', adj_table='1,2,3\n')
    for name in ('enable_adaptive_lmk', 'vmpressure_file_min'):
        st = os.stat(vendor.file(name))
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o644, 0), name


def test_vendor_parameters_are_written_like_the_kernel_does(mounted):
    vendor = mounted(*VENDOR)
    vendor.write('enable_adaptive_lmk', 'N\n')
    assert vendor.read('enable_adaptive_lmk') == 'N\n'
    vendor.write('enable_adaptive_lmk', '1')
    assert vendor.read('enable_adaptive_lmk') == 'Y\n'
    assert vendor.failed_write('enable_adaptive_lmk', 'maybe') == errno.EINVAL
    assert vendor.read('enable_adaptive_lmk') == 'Y\n'
    vendor.write('vmpressure_file_min', '0x10')
    assert vendor.read('vmpressure_file_min') == '16\n'
    assert vendor.failed_write('vmpressure_file_min', '1,2') == errno.EINVAL
    vendor.write('adj_table', '7')
    assert vendor.read('adj_table') == '7\n'


@pytest.mark.parametrize('arguments, message', [
    (['--vendor', 'minfree=1'], 'the driver has this parameter already'),
    (['--vendor', 'vmpressure_file_min=lots'], 'is not an integer'),
    (['--vendor', 'table=1,x'], 'integers joined by commas'),
    (['--vendor', 'no_value'], 'is not NAME=VALUE'),
    (['--vendor', '../escape=1'], 'is not NAME=VALUE'),
    (['--fail-write', '0:EINVAL'], 'is not N:ERRNO'),
    (['--fail-write', '2:ENOTANERRNO'], 'is not N:ERRNO'),
    (['--fail-write', '2'], 'is not N:ERRNO'),
    (['--store-instead', 'nosuch=1'], 'no such parameter'),
    (['--store-instead', 'cost=1,2'], 'is not one integer'),
    (['--type', 'minfree=long'], 'must be short, int or uint'),
    (['--type', 'nosuch=int'], 'not a parameter of the driver'),
])
def test_bad_options_are_refused_before_mounting(server_command, tmp_path, arguments, message):
    mountpoint = tmp_path / 'not-mounted'
    process = subprocess.run(server_command + arguments + [str(mountpoint)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=False)
    assert process.returncode != 0
    assert message in process.stderr, process.stderr
    assert not os.path.ismount(str(mountpoint))


# -- fault injection ---------------------------------------------------------------------

def test_fail_write_fails_exactly_the_nth_writes_and_stores_nothing(mounted):
    faulty = mounted('--fail-write', '2:EINVAL', '--fail-write', '4:28')
    assert faulty.write('adj', '0,900') == 5                   # write 1
    assert faulty.failed_write('minfree', '100,200') == errno.EINVAL  # write 2
    assert faulty.read('minfree') == DEFAULTS['minfree']
    faulty.write('cost', '16')                                 # write 3
    assert faulty.failed_write('cost', '8') == errno.ENOSPC    # write 4, errno given as a number
    assert faulty.read('cost') == '16\n'
    faulty.write('minfree', '100,200')                         # write 5: faults are one-off
    assert faulty.texts() == dict(DEFAULTS, adj='0,900\n', minfree='100,200\n', cost='16\n')


def test_read_only_refuses_opening_for_writing_and_truncating(mounted):
    frozen = mounted('--read-only')
    for flags in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC):
        with pytest.raises(OSError) as caught:
            os.close(os.open(frozen.file('adj'), flags))
        assert caught.value.errno == errno.EROFS
    with pytest.raises(OSError) as caught:
        os.truncate(frozen.file('minfree'), 0)
    assert caught.value.errno == errno.EROFS
    assert frozen.texts() == DEFAULTS


def test_store_instead_accepts_a_write_that_then_reads_back_different(mounted):
    liar = mounted('--vendor', 'enable_adaptive_lmk=Y', '--store-instead', 'minfree=42',
                   '--store-instead', 'enable_adaptive_lmk=Y', '--store-instead', 'adj=')
    assert liar.read('minfree') == DEFAULTS['minfree']  # until a write
    assert liar.write('minfree', '1\n') == 2
    assert liar.read('minfree') == '42\n'
    liar.write('enable_adaptive_lmk', 'N')
    assert liar.read('enable_adaptive_lmk') == 'Y\n'
    liar.write('adj', '9999')
    assert liar.read('adj') == ''
    # Other parameters are stored as written.
    liar.write('cost', '16')
    assert liar.read('cost') == '16\n'
