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


@pytest.mark.parametrize('escape', ['\x1b[31m', '#033[31m', '\\033[31m', '\\x1b[31m', '\\e[31m'])
def test_every_form_of_colour_escape_is_still_removed(escape):
    # A line is searched for colour escapes only when it holds one of their starts.
    kills = both_drivers([
        '[ 101.000000] %sKilled process 4242 (java%s) total-vm:10kB, anon-rss:800kB, file-rss:200kB, '
        'shmem-rss:0kB' % (escape, escape.replace('31', '0')),
    ])
    assert [fields(kill) for kill in kills] == [('oom-killer', 4242, 'java', None, 1000)]


@pytest.mark.parametrize('newline', ['#012', '\\x0a'])
def test_records_joined_by_an_escaped_newline_are_both_found(newline):
    # A line is split at escaped newlines only when it holds one.
    kills = both_drivers([
        '[ 100.000000] lowmemorykiller: send sigkill to 4141 (mysqld), adj 900, size 2000%s'
        'lowmemorykiller: send sigkill to 4242 (java), adj 800, size 1000' % newline,
    ])
    assert [fields(kill) for kill in kills] == [
        ('lowmemorykiller', 4141, 'mysqld', 900, 8000), ('lowmemorykiller', 4242, 'java', 800, 4000)]


def test_nohang_victim_fields_in_each_spelling_and_the_first_of_each_wins():
    # Each field's search is skipped on lines without its name, and once the field is known.
    kills = both_drivers([
        'nohang[700]: Victim information (found in 5ms):',
        'nohang[700]:   Name:        firefox',
        'nohang[700]:   Pid:         3141',
        'nohang[700]:   oom_score_adj: 100',
        'nohang[700]:   VmRSS:       2048 MiB',
        'nohang[700]:   CGroup:      /user.slice/app.scope',
        'nohang[700]:   PID: 9999, name: other, oom_score_adj: 5, RSS: 1',
        'nohang[700]: Sending SIGKILL to the victim',
    ])
    assert [fields(kill) + (kill['cgroup'], kill['signal']) for kill in kills] == [
        ('nohang', 3141, 'firefox', 100, 2048 * 1024, '/user.slice/app.scope', 'SIGKILL')]


@pytest.mark.parametrize('text', [
    'Killing', 'x Killed 12 (a)', 'signal=kill peer', 'signal=kill then: kill 12', 'lowmemorykiller: Killing',
    'earlyoom: sending', 'nohang: Sending SIGTERM to', 'x SIGKILL', 'oomd: Marked /a.slice',
    '[1] send sigkill to', 'Send', 'resend x', 'askill', 'a kill b c d e f g', 'a>kill 1 2', 'a]SIG', 'a;Marked x',
])
def test_a_cut_tail_is_told_as_the_pattern_searched_from_every_position_tells_it(text):
    # _cut_tail tries _CUT_TAIL only where one of its first words is; the answer must not change.
    searched = any(killlog._CUT_TAIL.match(text, start) and (start == 0 or text[start - 1] in ' \t:;>]')
                   for start in range(len(text)))
    assert killlog._cut_tail(text) == searched
