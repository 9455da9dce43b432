# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input: a clear error naming the parameter, and not one byte changed anywhere on the fake host.

The unit tests hold a table for each module (tests/unit/plugins/modules/test_*.py). These tables add
what they leave out, above all text that ends up in boot-time files (a newline, shell characters),
and a table for lowmemorykiller_info, which must change nothing even when it refuses.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re
import shutil

import pytest

from ansible_collections.lowmem.hardening.tests.reliability.helpers import (
    InfoHost,
    LmkHost,
    SwapHost,
    SysctlHost,
    failed,
    tree,
)


def assert_names(parameter, message):
    assert re.search(r'(^|[^\w.])%s($|[^\w])' % re.escape(parameter), message), (parameter, message)


def case_ids(table):
    return ['%s-%d' % (case[0], number) for number, case in enumerate(table)]


def refused(host, parameter, args, *tops):
    tops = tops or (host.root,)
    before = tree(*tops)
    result = failed(host.run(**args))
    assert_names(parameter, result['msg'])
    assert tree(*tops) == before
    return result


# ---- lowmemorykiller -----------------------------------------------------------------

LOWMEMORYKILLER = [
    # written into boot-time files: a newline would start a new line of a root shell script
    ('path', dict(state='disabled', path='@PARAMS@\n')),
    ('path', dict(state='disabled', path='@PARAMS@;reboot')),
    ('path', dict(state='disabled', path='@PARAMS@ x')),
    ('path', dict(state='disabled', path='@PARAMS@$(reboot)')),
    ('path', dict(state='disabled', path='@PARAMS@`reboot`')),
    ('path', dict(state='disabled', path='@PARAMS@/../parameters')),
    ('extra_params', dict(extra_params={'enable_lmk\n': 1})),
    ('extra_params', dict(extra_params={'enable_lmk;reboot': 1})),
    ('extra_params.enable_lmk', dict(extra_params={'enable_lmk': 'abc'})),
    ('extra_params.enable_lmk', dict(extra_params={'enable_lmk': {'a': 1}})),
    ('extra_params.enable_lmk', dict(extra_params={'enable_lmk': [1, 'x']})),
    ('state', dict(state='bogus')),
    ('persist', dict(state='disabled', persist='bogus')),
    ('missing', dict(state='disabled', missing='bogus')),
    ('adj', dict(adj=['x'])),
    ('cost', dict(cost='abc')),
    ('max_entries', dict(minfree=[1], max_entries='many')),
    ('minfre', dict(minfre=[1])),
]


@pytest.mark.parametrize('parameter, args', LOWMEMORYKILLER, ids=case_ids(LOWMEMORYKILLER))
def test_lowmemorykiller(runner, root, parameter, args):
    host = LmkHost(root, runner)
    if 'path' in args:
        args = dict(args, path=args['path'].replace('@PARAMS@', host.params))
        # the odd directory exists, so only validation stands between it and a boot file
        if not os.path.exists(args['path']):
            shutil.copytree(host.params, args['path'])
    for name in args.get('extra_params', {}):
        with open(os.path.join(host.params, name), 'w') as param:
            param.write('1\n')
    refused(host, parameter, args)


# ---- swapfile ----------------------------------------------------------------------

SWAPFILE = [
    ('path', dict(size='1M', path='@DIR@/swap\nfile')),
    ('path', dict(size='1M', path='@DIR@/swapfile\n')),
    ('path', dict(size='1M', path='@DIR@/swap\0file')),
    ('path', dict(size='1M', path='/')),
    ('size', dict(size='1M; reboot')),
    ('size', dict(size=['1M'])),
    ('priority', dict(size='1M', priority=1.5)),
    ('sizes', dict(size='1M', sizes='2M')),
]


@pytest.mark.parametrize('parameter, args', SWAPFILE, ids=case_ids(SWAPFILE))
def test_swapfile(ext4, runner, root, parameter, args):
    host = SwapHost(ext4(128), root, runner)
    if 'path' in args:
        args = dict(args, path=args['path'].replace('@DIR@', host.directory))
    refused(host, parameter, args, host.directory, root)


# ---- sysctl --------------------------------------------------------------------------

SYSCTL = [
    # apply=false writes names to the file without looking for them in /proc/sys
    ('values', dict(values={'vm.swappiness\n': 10}, apply=False)),
    ('values', dict(values={'vm.swappiness\n': 10})),
    ('values', dict(values={'-vm.swappiness': 10}, apply=False)),
    ('values', dict(values={'vm..swappiness': 10}, apply=False)),
    ('values', dict(values={'vm.swap piness': 10}, apply=False)),
    ('values', dict(values={'vm.swappiness = 1\nvm.overcommit_memory': 2}, apply=False)),
    ('values', dict(values={'vm.swappiness': '10\r'})),
    ('values', dict(values={'vm.swappiness': '10\0'})),
    ('values', dict(values={'vm.swappiness': 10.5})),
    ('valuez', dict(values={'vm.swappiness': 10}, valuez={'vm.swappiness': 20})),
]


@pytest.mark.parametrize('parameter, args', SYSCTL, ids=case_ids(SYSCTL))
def test_sysctl(runner, root, parameter, args):
    refused(SysctlHost(root, runner), parameter, args)


# ---- lowmemorykiller_info --------------------------------------------------------------

LOWMEMORYKILLER_INFO = [
    ('sources', dict(sources=['bogus'])),
    ('sources', dict(sources='kmsg,bogus')),
    ('max_kills', dict(max_kills=-1)),
    ('max_kills', dict(max_kills='many')),
    ('since', dict(since='last tuesday')),
    ('since', dict(since='5x')),
    ('since', dict(since='2024-13-40')),
    ('log_files', dict(log_files={'a': 1})),
    ('max_kill', dict(max_kill=5)),
]


@pytest.mark.parametrize('parameter, args', LOWMEMORYKILLER_INFO, ids=case_ids(LOWMEMORYKILLER_INFO))
def test_lowmemorykiller_info(runner, root, parameter, args):
    refused(InfoHost(root, runner), parameter, args)
