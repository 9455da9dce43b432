# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""earlyoom (earlyoom.yml, the lowmemorykiller still disabled): oom_protect merges --avoid and --prefer into
EARLYOOM_ARGS, earlyoom runs with them as separate words, and it sends SIGTERM to batchjob first, then to
site-build, never to memhold; without protection it picks memhold first. In every run."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import protect_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts()

# earlyoom sends SIGTERM at 10 % available memory and SIGKILL at 5 %: a hog may get either.
TERM_OR_KILL = (-15, -9)


def _option(argv, flag):
    """The value given to a flag in an argv list (`--flag VALUE` or `--flag=VALUE`), or None."""
    for index, word in enumerate(argv):
        if word == flag and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(flag + '='):
            return word[len(flag) + 1:]
    return None


def test_earlyoom_was_the_first_killer(host):
    for trial in checks.trials('earlyoom', host):
        killers = trial['before']['killers']
        assert (killers['lmk_adj'], killers['earlyoom'], killers['swap_kb']) == ('9999', 'active', 0), killers


def test_without_protection_memhold_goes_first(host):
    runs = checks.check_case('earlyoom', host, 'earlyoom-unprotected', victims=['memhold', 'site-build'],
                             killer='earlyoom', adj={'memhold': 0, 'batch': 0}, survivors=['batch'],
                             hog_signals=TERM_OR_KILL)
    for trial in runs:
        argv = trial['before']['killers']['earlyoom_argv']
        assert _option(argv, '--avoid') is None and _option(argv, '--prefer') is None, argv


def test_with_protection_batchjob_goes_first_and_memhold_lives(host):
    runs = checks.check_case('earlyoom', host, 'earlyoom-protected', victims=['batchjob', 'site-build'],
                             killer='earlyoom', adj={'memhold': -1000, 'batch': 500}, survivors=['memhold'],
                             hog_signals=TERM_OR_KILL)
    for trial in runs:
        argv = trial['before']['killers']['earlyoom_argv']
        assert re.search(_option(argv, '--avoid'), 'memhold'), argv
        assert re.search(_option(argv, '--prefer'), 'batchjob'), argv


def test_earlyoom_args_hold_ours_as_separate_words(host):
    saved = checks.saved('earlyoom', host)
    lines = [line for line in saved['default'].splitlines() if line.startswith('EARLYOOM_ARGS=')]
    assert len(lines) == 1, saved['default']
    # systemd splits $EARLYOOM_ARGS at whitespace and removes no quotes: none may be inside the value.
    value = lines[0][len('EARLYOOM_ARGS='):].strip('"')
    assert "'" not in value and '"' not in value, lines
    argv = saved['killers']['earlyoom_argv']
    assert argv[0] == '/usr/bin/earlyoom'
    assert argv[1:] == value.split(), (argv, value)
    # The package's own -r 3600 is kept.
    assert _option(argv, '-r') == '3600', argv
    avoid, prefer = _option(argv, '--avoid'), _option(argv, '--prefer')
    for name, expression, matches in (('memhold', avoid, True), ('batchjob', avoid, False),
                                      ('site-build', avoid, False), ('batchjob', prefer, True),
                                      ('memhold', prefer, False), ('site-build', prefer, False)):
        assert bool(re.search(expression, name)) is matches, (name, expression)
