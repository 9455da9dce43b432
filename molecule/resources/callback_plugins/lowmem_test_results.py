# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record every task result of a run as JSON lines, for Molecule verifiers to read."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
name: lowmem_test_results
type: notification
short_description: Append every task result of a run to a JSON lines file (tests only)
description:
  - One line per host and task, with the run it belongs to, whether the run was in check mode, the
    task's name and action, the outcome, what the default callback shows of it at verbosity 0
    (a debug message, warnings, the message of a failure) and the result itself.
  - A scenario enables it for its converge, idempotence and check runs through ANSIBLE_CALLBACK_PLUGINS,
    ANSIBLE_CALLBACKS_ENABLED and LOWMEM_TEST_RESULTS, so its verifier judges what those runs did and said.
options:
  path:
    description: The JSON lines file; lines are appended.
    type: path
    required: true
    env:
      - name: LOWMEM_TEST_RESULTS
'''

import json
import os
import time

from ansible import context
from ansible.plugins.callback import CallbackBase

# Bulky or internal keys left out of the recorded result.
LEFT_OUT = frozenset(['invocation', 'diff', '_ansible_no_log', '_ansible_verbose_always', '_ansible_verbose_override'])


def _text_lines(value):
    """A message as the lines the default callback prints for it."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [line for item in value for line in _text_lines(item)]
    if not isinstance(value, str):
        value = json.dumps(value, sort_keys=True, default=str)
    return value.splitlines()


def _warning_texts(task_result, result):
    """Warnings as text, from ansible-core 2.19's summaries or older plain strings."""
    texts = []
    for warning in getattr(task_result, 'warnings', None) or result.get('warnings') or []:
        event = getattr(warning, 'event', None)
        if event is not None:
            texts.append(event.msg)
        elif isinstance(warning, dict):
            texts.append(str((warning.get('event') or {}).get('msg') or warning.get('msg') or warning))
        else:
            texts.append(str(warning))
    return texts


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'lowmem_test_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.run = '%d-%.6f' % (os.getpid(), time.time())
        self.playbook = None
        self.play = None

    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.basename(playbook._file_name)

    def v2_playbook_on_play_start(self, play):
        self.play = play.get_name()

    def _record(self, task_result, status):
        result = dict(task_result._result)
        said = _warning_texts(task_result, result)
        if task_result._task.action in ('debug', 'ansible.builtin.debug', 'ansible.legacy.debug'):
            said = _text_lines(result.get('msg')) + said
        if status in ('failed', 'unreachable'):
            said = said + _text_lines(result.get('msg'))
        record = dict(
            run=self.run, playbook=self.playbook, play=self.play,
            check_mode=bool(context.CLIARGS.get('check', False)),
            host=task_result._host.get_name(), task=task_result._task.get_name(),
            action=task_result._task.action, status=status, changed=bool(result.get('changed', False)),
            said=said, result=dict((k, v) for k, v in result.items() if k not in LEFT_OUT),
        )
        with open(self.get_option('path'), 'a') as f:
            f.write(json.dumps(record, sort_keys=True, default=str) + '\n')

    def v2_runner_on_ok(self, result):
        self._record(result, 'changed' if result._result.get('changed', False) else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')
