# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks: lowmem.hardening side by side with what users would run instead.

  python bench/bench.py [--quick] [--runs N] [--only 1,2,...] [--results DIR] [--commit REV | --worktree]

`make bench` runs every measurement at full size and writes bench/results/latest.json and
latest.md; `make bench-quick` runs the same code at tiny sizes, once, on one host, only to
show that it works (no time is judged). bench/README.md says what each measurement is.

Every command is printed before it runs. Each measurement alternates with its baseline
(A B, then B A, ...) and is repeated; results give the median, min and max of each and the
ratio of the medians. The machine's load (uptime) is recorded before and after each one.

Needs root (rootful podman, swapon, loop devices), the images of tests/containers and
.venv-molecule (ansible-core, containers.podman): `make bench` provides them. It starts and
removes its own containers (named lowmem-bench-PID-...), and undoes its swap and loop mounts,
also after a failure or Ctrl-C; leftovers of a run that was killed are removed by the next.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import argparse
import os
import signal
import sys

import measure_bighost
import measure_fleet
import measure_killlog
import measure_rerun
import measure_round_trip
import measure_swapfile
import report
from runner import BUILD, BenchError, run_measurement, uptime
from testbed import Bench

# per_call: pairs of calls inside one playbook (measurement 1); each is about a second, and more
# samples make the median hold under other people's load.
# floor_runs: the fleet's transport floor, a diagnosis only, and as long as the role at 30 hosts.
# bighost_mb: MiB of kernel log text over kern.log and its rotations, and MiB of journal, of the big
# host (measurement 6); bighost_runs: its rounds, each a few full reads of both.
FULL = dict(runs=7, fleet_runs=5, floor_runs=3, fleet_sizes=(1, 10, 30), per_call=21, swap_size='4G', role_swap_size='64M',
            log_mb=(20, 200), bighost_runs=5, bighost_mb=1024)
QUICK = dict(runs=1, fleet_runs=1, floor_runs=1, fleet_sizes=(1,), per_call=1, swap_size='16M', role_swap_size='16M',
             log_mb=(0.2, 2), bighost_runs=1, bighost_mb=10)
MEASUREMENTS = {'1': measure_round_trip.measure, '2': measure_rerun.measure, '3': measure_swapfile.measure,
                '4': measure_killlog.measure, '5': measure_fleet.measure, '6': measure_bighost.measure}


def parse_args(argv):
    """(options, [measurement numbers], sizes)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='tiny sizes, 1 run, 1 host: only show that it works')
    parser.add_argument('--runs', type=int, help='repetitions of each measurement (default 7; fleet and big host 5)')
    parser.add_argument('--only', default=','.join(sorted(MEASUREMENTS)), help='measurements to run, e.g. 1,4')
    parser.add_argument('--forks', type=int, default=10, help='ansible forks for the fleet (default 10)')
    parser.add_argument('--results', default=os.path.join(BUILD, 'results'), help='where latest.json/.md go')
    parser.add_argument('--loop', action='store_true', help='use a loop-mounted ext4 image even on ext4')
    parser.add_argument('--worktree', action='store_true',
                        help='measure the work tree with its uncommitted changes (default: the last commit)')
    parser.add_argument('--bighost-mb', type=float,
                        help='measurement 6: MiB of kernel log text in kern.log and its rotations (default 1024; quick 10)')
    parser.add_argument('--bighost-journal-mb', type=float, help='measurement 6: MiB of journal (default: --bighost-mb)')
    parser.add_argument('--bighost-timeout', type=float, default=900,
                        help='measurement 6: seconds one info call may take; a call that takes longer is stopped, '
                             'reported as such, and not run again (default 900)')
    parser.add_argument('--commit', default='HEAD',
                        help='measure this commit (git archive REV; default HEAD), e.g. the one before a change')
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error('needs root (rootful podman, swapon, loop devices)')
    if args.worktree and args.commit != 'HEAD':
        parser.error('--worktree and --commit exclude each other')
    only = [item for item in args.only.split(',') if item]
    if set(only) - set(MEASUREMENTS):
        parser.error('--only takes measurement numbers from %s' % ', '.join(sorted(MEASUREMENTS)))
    sizes = dict(QUICK if args.quick else FULL)
    if args.runs:
        sizes.update(runs=args.runs, fleet_runs=args.runs, floor_runs=min(args.runs, sizes['floor_runs']),
                     bighost_runs=args.runs)
    if args.bighost_mb:
        sizes.update(bighost_mb=args.bighost_mb)
    sizes.update(bighost_journal_mb=args.bighost_journal_mb or sizes['bighost_mb'], bighost_timeout=args.bighost_timeout)
    return args, only, sizes


def main(argv=None):
    args, only, sizes = parse_args(argv)
    bench = Bench(args, sizes)
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the cleanup below runs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    results = dict(command=' '.join(['python', 'bench/bench.py'] + (argv if argv is not None else sys.argv[1:])),
                   run_dir=bench.run_dir,
                   quick=args.quick, sizes=sizes, started=report.now(), load_start=uptime(), measurements=[])
    try:
        bench.prepare()
        for number in only:
            results['measurements'].append(run_measurement(bench, number, MEASUREMENTS[number]))
    except BenchError as exc:
        print('bench: %s' % exc, file=sys.stderr)
        return 1
    finally:
        bench.shell.section = None
        bench.cleanup()
    report.write(results, args.results, bench.commit)
    return 0


if __name__ == '__main__':
    sys.exit(main())
