# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""--check changes no byte, mode, owner, name or time, on a fresh host and on a converged one.

Each module runs in check mode (and diff mode, which reads more) in a real process against a fake
host; the whole fake root is snapshotted before and after. Each check run must also predict what
the real run then does, so that a module that did nothing at all could not pass.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

from ansible_collections.lowmem.hardening.tests.reliability.helpers import (
    LmkHost,
    SwapHost,
    SysctlHost,
    succeeded,
    tree,
    write,
)


def check_then_apply(host, tops, **args):
    """Check mode changes nothing and predicts `changed`; then the real run. Returns the prediction."""
    before = tree(*tops)
    predicted = succeeded(host.run(check_mode=True, diff=True, **args))
    assert tree(*tops) == before
    done = succeeded(host.run(**args))
    assert predicted['changed'] == done['changed']
    return predicted


def test_lowmemorykiller(runner, root):
    host = LmkHost(root, runner)
    request = dict(minfree=['8M', '16M'], adj=[0, 900], cost=16, persist='tmpfiles')
    assert check_then_apply(host, [root], **request)['changed']  # fresh
    assert not check_then_apply(host, [root], **request)['changed']  # converged
    # converged for one request, another one pending: a different method and values
    assert check_then_apply(host, [root], state='disabled', persist='openrc')['changed']
    assert check_then_apply(host, [root], state='restored')['changed']


def test_swapfile(ext4, runner, root):
    mount_point = ext4(128)
    host = SwapHost(mount_point, root, runner)
    # a temporary left by an interrupted run: check mode must not remove it either
    write(os.path.join(mount_point, '.swapfile.lowmem-tmp.0123456789abcdef'), b'half written', 0o600)
    tops = [mount_point, root]
    assert check_then_apply(host, tops, size='4M', priority=3)['changed']  # fresh
    assert not check_then_apply(host, tops, size='4M', priority=3)['changed']  # converged
    assert check_then_apply(host, tops, size='8M')['changed']  # a resize and a new fstab line
    assert check_then_apply(host, tops, state='absent')['changed']


def test_sysctl(runner, root):
    host = SysctlHost(root, runner)
    values = {'vm.swappiness': 10, 'vm.vfs_cache_pressure': 50}
    assert check_then_apply(host, [root], values=values)['changed']  # fresh
    assert not check_then_apply(host, [root], values=values)['changed']  # converged
    assert check_then_apply(host, [root], values={'vm.overcommit_memory': 2})['changed']
    assert check_then_apply(host, [root], state='absent')['changed']
