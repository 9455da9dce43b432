# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-task wall times for bench/bench.py: one JSON line per host and task result.

Enabled by bench.py only (ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins,
ANSIBLE_CALLBACKS_ENABLED=bench_timing); writes to the file named by LOWMEM_BENCH_TIMING.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
name: bench_timing
type: aggregate
short_description: Write each task result's wall time as a JSON line (bench/bench.py)
description:
  - For each host and task, the time from the task being handed to a worker until its result,
    its status and whether it changed, appended to the file named by E(LOWMEM_BENCH_TIMING).
requirements:
  - E(LOWMEM_BENCH_TIMING) set to a file path; without it nothing is written.
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def _fields(result):
    """(host name, task, result dict) across ansible-core 2.16 to 2.19 result objects."""
    host = getattr(result, 'host', None) or result._host
    task = getattr(result, 'task', None) or result._task
    values = getattr(result, 'result', None)
    if values is None:
        values = result._result
    return host.get_name(), task, values


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.path = os.environ.get('LOWMEM_BENCH_TIMING')
        self.started = {}

    def v2_runner_on_start(self, host, task):
        self.started[(host.get_name(), task._uuid)] = time.monotonic()

    def _record(self, result, status):
        now = time.monotonic()
        host, task, values = _fields(result)
        started = self.started.pop((host, task._uuid), None)
        if not self.path:
            return
        line = dict(
            host=host, task=task.get_name(), action=task.action, status=status,
            changed=bool(values.get('changed', False)),
            seconds=None if started is None else round(now - started, 6),
        )
        with open(self.path, 'a') as out:
            out.write(json.dumps(line, sort_keys=True) + '\n')

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')
