# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process and return its result dict."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import contextlib
import json

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.common.text.converters import to_bytes

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core 2.16 - 2.18
    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


class _ModuleExit(Exception):
    def __init__(self, result):
        super(_ModuleExit, self).__init__(result)
        self.result = result


def _exit_json(self, **kwargs):
    kwargs.setdefault('changed', False)
    kwargs['warnings'] = list(ansible_warnings.get_warning_messages())
    raise _ModuleExit(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs['failed'] = True
    kwargs['warnings'] = list(ansible_warnings.get_warning_messages())
    kwargs['msg'] = msg
    raise _ModuleExit(kwargs)


def run_module(module_main, args, check_mode=False, diff=False, monkeypatch=None):
    """Call module_main() with args; return the dict passed to exit_json/fail_json.

    `monkeypatch` is pytest's fixture; it undoes the exit/fail patches after the call.
    """
    args = dict(args)
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = diff
    args.setdefault('_ansible_remote_tmp', '/tmp')
    args.setdefault('_ansible_keep_remote_files', False)
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', _fail_json)
    # warnings are module-global in ansible-core; start each call with none
    monkeypatch.setattr(ansible_warnings, '_global_warnings', type(ansible_warnings._global_warnings)())
    with patch_module_args(args):
        try:
            module_main()
        except _ModuleExit as exc:
            return exc.result
    raise AssertionError('module returned without calling exit_json or fail_json')
