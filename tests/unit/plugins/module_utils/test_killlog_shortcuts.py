# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lines that killlog's shortcuts (the tests it makes before splitting a line's prefix) must not lose."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import killlog


def both_drivers(lines):
    """The kills of parse_lines and of scan_chunks (one small chunk at a time), which must agree."""
    by_lines = list(killlog.parse_lines(lines))
    data = ''.join(line + '\n' for line in lines).encode('utf-8')
    by_chunks = list(killlog.scan_chunks(data[i:i + 7] for i in range(0, len(data), 7)))
    assert by_chunks == by_lines
    return by_lines


def fields(kill):
    return kill['killer'], kill['pid'], kill['comm'], kill['adj'], kill['rss_kb']


def test_a_whole_oom_kill_still_takes_a_line_that_starts_with_its_fields():
    kills = both_drivers([
        '[ 2392.102421] Out of memory: Killed process 18231 (python3) total-vm:65908kB, anon-rss:55808kB, '
        'file-rss:6600kB, shmem-rss:0kB',
        '[ 2392.102421] UID:0 pgtables:164kB oom_score_adj:-5',
        '[ 2392.200000] usb 1-2: new high-speed USB device number 4 using xhci_hcd',
    ])
    assert [fields(kill) for kill in kills] == [('oom-killer', 18231, 'python3', -5, 62408)]
    assert len(kills[0]['lines']) == 2


@pytest.mark.parametrize('coloured', [
    # journalctl and less -R keep the colours a console printed; one may fall inside the kill word
    '[ 101.000000] \x1b[1mKil\x1b[0mled process 4242 (java) total-vm:10kB, anon-rss:800kB, file-rss:200kB, '
    'shmem-rss:0kB',
    '[ 101.000000] Kil#033[0mled process 4242 (java) total-vm:10kB, anon-rss:800kB, file-rss:200kB, shmem-rss:0kB',
])
def test_a_coloured_kill_right_after_a_whole_record_is_found(coloured):
    kills = both_drivers([
        '[ 100.000000] lowmemorykiller: send sigkill to 4141 (mysqld), adj 900, size 2000',
        coloured,
    ])
    assert [fields(kill) for kill in kills] == [
        ('lowmemorykiller', 4141, 'mysqld', 900, 8000), ('oom-killer', 4242, 'java', None, 1000)]


def test_a_record_cut_after_an_earlier_kill_word_is_joined_with_the_next_line():
    # "signal=kill" cannot start a record (no blank before it); the "Killing" after it can.
    kills = both_drivers([
        "[ 300.000000] audit: signal=kill lowmemorykiller: Killing",
        "'mysqld' (1204), adj 0,",
        "   to free 204800kB on behalf of 'kswapd0' (45) because",
    ])
    assert [fields(kill) for kill in kills] == [('lowmemorykiller', 1204, 'mysqld', 0, 204800)]
