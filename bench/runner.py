# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runner every measurement of bench/bench.py shares: commands printed before they run and
recorded under the measurement that ran them, variants alternated, their median, min and max,
and the machine's load before and after each measurement."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import contextlib
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BUILD = os.path.join(REPO, 'build', 'bench')
VENV_BIN = os.path.join(REPO, '.venv-molecule', 'bin')
# A command still running after this long is killed (with its process group).
TIMEOUT = 1800


class BenchError(Exception):
    pass


Outcome = collections.namedtuple('Outcome', 'seconds rc out err maxrss_kb')


def base_env(run_dir):
    # Ansible's home and collections are the run's own: concurrent runs (make test runs
    # bench-quick) and a reinstall of containers.podman by make molecule-venv do not touch them.
    return {
        'PATH': VENV_BIN + os.pathsep + os.environ.get('PATH', ''),
        'ANSIBLE_CONFIG': os.path.join(HERE, 'ansible.cfg'),
        'ANSIBLE_HOME': os.path.join(run_dir, 'ansible-home'),
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(run_dir, 'collections'),
        'CONTAINERS_CONF': os.path.join(REPO, 'tests', 'containers', 'containers.conf'),
    }


def display_env(run_dir, separator):
    """The environment bench.py adds, as export lines (PATH keeps the caller's after the venv)."""
    env = base_env(run_dir)
    env['PATH'] = VENV_BIN + ':"$PATH"'
    return separator.join('export %s=%s' % (key, value if key == 'PATH' else shlex.quote(value))
                          for key, value in sorted(env.items()))


class Shell(object):
    """Runs commands, printing each one first (with the environment it adds) so it can be rerun."""

    def __init__(self, env):
        self.env = env
        self.section = None
        self.commands = {}

    def run(self, argv, extra_env=None, check=True, timed=False):
        text = ' '.join(['%s=%s' % (key, shlex.quote(value)) for key, value in sorted((extra_env or {}).items())]
                        + [shlex.quote(word) for word in argv])
        print('%s %s' % ('+' if not timed else '+ [timed]', text), flush=True)
        if self.section is not None:
            seen = self.commands.setdefault(self.section, [])
            if dict(command=text, timed=timed) not in seen:
                seen.append(dict(command=text, timed=timed))
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=REPO, env=dict(self.env, **(extra_env or {})), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
            timer = threading.Timer(TIMEOUT, _kill_group, (proc.pid,))
            timer.start()
            try:
                # wait4, not wait: the child's own resource usage (max RSS) comes with it.
                _pid, status, usage = os.wait4(proc.pid, 0)
            except BaseException:
                _kill_group(proc.pid)
                os.wait4(proc.pid, 0)
                raise
            finally:
                timer.cancel()
            seconds = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            result = Outcome(seconds, proc.returncode, out.read().decode('utf-8', 'replace'),
                             err.read().decode('utf-8', 'replace'), usage.ru_maxrss)
        if check and result.rc != 0:
            raise BenchError(failure_report(text, result))
        return result


def failure_report(text, result):
    """The error lines and the tail of a failed command's output; all of it in a file kept in build/bench."""
    output = result.out + result.err
    os.makedirs(BUILD, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=BUILD, prefix='failed-%d-' % os.getpid(), suffix='.log')
    with os.fdopen(fd, 'w') as log:
        log.write('%s\n(rc=%d)\n%s' % (text, result.rc, output))
    lines = output.strip().splitlines()
    errors = [line[:1500] for line in lines if re.search(r'fatal:|FAILED!|\[ERROR\]|^ERROR', line)][:10]
    return 'command failed (rc=%d): %s\n%s\n...\n%s\n(whole output: %s)' % (
        result.rc, text, '\n'.join(errors), '\n'.join(lines[-25:]), path)


def _kill_group(pid):
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def summary(samples):
    return dict(median=statistics.median(samples), min=min(samples), max=max(samples), n=len(samples),
                samples=[round(sample, 4) for sample in samples])


def compared(what, ours_label, ours, baseline_label, baseline):
    """A row of results: two summaries side by side, and the ratio of their medians."""
    return dict(what=what, ours_label=ours_label, ours=ours, baseline_label=baseline_label, baseline=baseline,
                ratio=ours['median'] / baseline['median'] if baseline['median'] else None)


def counted(what, ours_label, ours_value, baseline_label, baseline_value):
    """A row of results: two figures side by side, no ratio."""
    return dict(what=what, ours_label=ours_label, ours_value=ours_value, baseline_label=baseline_label,
                baseline_value=baseline_value)


def interleave(runs, variants, limits=None):
    """Run each variant `runs` times, rotating the order every round (A B, B A for two).

    variants: [(key, callable returning seconds)]; limits: {key: rounds} for a variant run in the
    first rounds only. Returns {key: [seconds...]}.
    """
    samples = dict((key, []) for key, _run in variants)
    for round_index in range(runs):
        # A rotation: for two variants, every other round reversed.
        for key, run in variants[round_index % len(variants):] + variants[:round_index % len(variants)]:
            if round_index < (limits or {}).get(key, runs):
                samples[key].append(run())
    return samples


def uptime():
    with open('/proc/loadavg') as loadavg:
        fields = loadavg.read().split()
    return '%s %s %s' % tuple(fields[:3])


def run_measurement(bench, number, measure):
    """measure(bench), its commands recorded under its number and the load before and after."""
    bench.shell.section = number
    before = uptime()
    print('\n## measurement %s (%s)' % (number, before), flush=True)
    result = measure(bench)
    result['load'] = dict(before=before, after=uptime())
    result['commands'] = bench.shell.commands.get(number, [])
    for row in result['rows']:
        print('   %s: %s' % (row['what'], json.dumps({k: v for k, v in row.items() if k != 'what'})))
    return result
