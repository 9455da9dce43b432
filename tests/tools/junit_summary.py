# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print pass/fail/skip counts from the JUnit XML files that the test runs wrote.

ansible-test (sanity --junit, units) and pytest (--junit-xml) all write JUnit
XML. Counting their test cases gives one line per suite and a closing total, so
the end of `make test` says how many tests ran even when several runners were
involved.

    python junit_summary.py [--test-files DIR] SUITE=GLOB [SUITE=GLOB ...]

A suite that ran no test is reported as such. With --test-files, a suite that
ran no test while DIR holds test_*.py files is an error: pytest's "no tests
collected" is acceptable only while a suite is really empty.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import argparse
import glob
import os
import sys
from xml.etree import ElementTree


def count_cases(paths):
    """Return (passed, failed, skipped) over every testcase element in the given files."""
    passed = failed = skipped = 0
    for path in paths:
        for case in ElementTree.parse(path).getroot().iter('testcase'):
            outcomes = set(child.tag for child in case)
            if outcomes & set(('failure', 'error')):
                failed += 1
            elif 'skipped' in outcomes:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


def has_test_files(directory):
    """Tell whether directory holds any pytest test module."""
    for dummy_root, dummy_dirs, files in os.walk(directory):
        if any(name.startswith('test_') and name.endswith('.py') for name in files):
            return True
    return False


def parse_suite(text):
    """Split SUITE=GLOB."""
    name, sep, pattern = text.partition('=')
    if not sep or not name or not pattern:
        raise argparse.ArgumentTypeError('expected SUITE=GLOB, got %r' % text)
    return name, pattern


def main():
    """Print one line per suite and a total; exit 1 on a failed test or a suite that ran no test it should have."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--test-files', metavar='DIR',
                        help='fail when a suite ran no test although DIR holds test_*.py files')
    parser.add_argument('suites', nargs='+', type=parse_suite, metavar='SUITE=GLOB')
    args = parser.parse_args()

    totals = [0, 0, 0]
    problems = []
    for name, pattern in args.suites:
        paths = sorted(glob.glob(pattern))
        passed, failed, skipped = count_cases(paths)
        totals = [totals[0] + passed, totals[1] + failed, totals[2] + skipped]
        note = ''
        if passed + failed + skipped == 0:
            note = '  (no tests collected)'
            if args.test_files and has_test_files(args.test_files):
                problems.append('%s ran no test, but %s holds test_*.py files' % (name, args.test_files))
        print('%s: %d passed, %d failed, %d skipped%s' % (name, passed, failed, skipped, note))

    if len(args.suites) > 1:
        print('total: %d passed, %d failed, %d skipped' % tuple(totals))

    if totals[1]:
        problems.append('%d test(s) failed' % totals[1])
    for problem in problems:
        print('ERROR: %s' % problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
