# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swap_findings: zram swap areas as lowmemorykiller_info shows them, and the findings about them."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import swap_findings

MIB = 1 << 20
RAM = 512 * MIB
OOMD = {'name': 'systemd-oomd', 'running': True, 'pids': [845]}


def zram_area(size, ratio=None, filename='/dev/zram0'):
    return {'filename': filename, 'type': 'partition', 'size_bytes': size, 'used_bytes': 0, 'priority': 100,
            'zram': {'disksize_bytes': size, 'algorithm': 'zstd', 'orig_data_bytes': None, 'compr_data_bytes': None,
                     'mem_used_bytes': None, 'ratio': ratio}}


def codes(found):
    return [f['code'] for f in found]


@pytest.mark.parametrize('filename, name', [
    ('/dev/zram0', 'zram0'), ('/dev/zram12', 'zram12'), ('/swapfile', None), ('/dev/zram', None),
    ('/dev/zram0p1', None)])
def test_zram_name(filename, name):
    assert swap_findings.zram_name(filename) == name


def test_zram_device_from_its_sysfs_files():
    device = swap_findings.zram_device('268435456\n', 'lzo lzo-rle lz4 [zstd]\n',
                                       '104857600 31457280 33554432        0 33554432        0        0        0\n')
    assert device == {'disksize_bytes': 268435456, 'algorithm': 'zstd', 'orig_data_bytes': 104857600,
                      'compr_data_bytes': 31457280, 'mem_used_bytes': 33554432, 'ratio': 3.33}


def test_zram_device_empty_or_unreadable():
    empty = swap_findings.zram_device('268435456\n', '[lzo-rle] zstd\n', '0 0 0 0 0 0 0 0\n')
    assert (empty['algorithm'], empty['orig_data_bytes'], empty['ratio']) == ('lzo-rle', 0, None)
    assert swap_findings.zram_device(None, None, None) == {
        'disksize_bytes': None, 'algorithm': None, 'orig_data_bytes': None, 'compr_data_bytes': None,
        'mem_used_bytes': None, 'ratio': None}


def test_swap_activations_from_dmesg():
    dmesg = (b'[    0.000000] Linux version 6.1.0-28-cloud-amd64\n'
             b'[    3.251004] Adding 240636k swap on /dev/zram0.  Priority:100 extents:1 across:240636k SSDscFS\n'
             b'[   12.500000] Adding 1048572k swap on /swapfile.  Priority:-2 extents:6 across:1200000k FS\n')
    assert swap_findings.swap_activations(dmesg) == [(3.251004, '/dev/zram0'), (12.5, '/swapfile')]


@pytest.mark.parametrize('size, ratio, expected', [
    (RAM // 2, None, []),               # ram / 2 at the assumed 2:1 holds a quarter of RAM when full
    (RAM, None, []),                    # ram at 2:1: half, not more
    (RAM * 3 // 2, None, ['zram_oversized']),
    (RAM * 3 // 2, 3.5, []),            # the measured ratio decides once pages are stored
    (RAM, 1.5, ['zram_oversized']),     # data that compresses badly
])
def test_oversized_zram(size, ratio, expected):
    assert codes(swap_findings.oversized_zram([zram_area(size, ratio)], RAM)) == expected


def test_oversized_zram_message_and_other_areas():
    swapfile = {'filename': '/swapfile', 'type': 'file', 'size_bytes': 4 * RAM, 'used_bytes': 0, 'priority': -2}
    found = swap_findings.oversized_zram([swapfile, zram_area(2 * RAM)], RAM)
    assert codes(found) == ['zram_oversized'] and found[0]['severity'] == 'warning'
    assert found[0]['message'].startswith('/dev/zram0 is 1024 MiB of zram swap on 512 MiB of RAM: full, at a '
                                          'compression ratio of 2.0 (assumed: nothing is stored yet), it would '
                                          'hold 512 MiB of RAM (100%)')
    assert swap_findings.oversized_zram([zram_area(2 * RAM)], None) == []


def test_oomd_started_before_the_swap():
    found = swap_findings.oomd_before_swap([OOMD], [zram_area(RAM // 2)], [(3.25, '/dev/zram0')], 1.5)
    assert codes(found) == ['oomd_started_before_swap']
    assert found[0]['message'].startswith('systemd-oomd (pid 845) started 1.5 s after boot, before any swap was on '
                                          '(the first, /dev/zram0, at 3.2 s)')


@pytest.mark.parametrize('killers, activations, started', [
    ([OOMD], [(3.25, '/dev/zram0')], 4.0),                       # oomd after the swap: it saw it
    ([dict(OOMD, running=False)], [(3.25, '/dev/zram0')], 1.5),  # installed, not running
    ([OOMD], [(3.25, '/dev/zram0')], None),                      # start unknown
    ([OOMD], [], 1.5),                                           # ring buffer unread or rotated away
    ([OOMD], [(3.25, '/dev/zram1')], 1.5),                       # that swap is no longer active
    ([OOMD], [(0.9, '/dev/zram0'), (3.25, '/swapfile')], 1.5),   # one swap was on before it
])
def test_oomd_after_some_swap_or_unknown(killers, activations, started):
    swaps = [zram_area(RAM // 2), {'filename': '/swapfile', 'type': 'file', 'size_bytes': RAM, 'used_bytes': 0,
                                   'priority': -2}]
    assert swap_findings.oomd_before_swap(killers, swaps, activations, started) == []
