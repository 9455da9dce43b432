# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one module of the collection in a process of its own, as Ansible does, with test-only changes.

    python driver.py SPEC.json

SPEC.json is an object with:
- "module": the module's name (plugins/modules/NAME.py);
- "args": its arguments as Ansible passes them (_ansible_check_mode and friends included);
- "constants": {"plugins.module_utils.host": {"STATE_FILE": "/tmp/..."}, ...}: module-level names set
  before main() runs, so that no run reads or writes the real /etc, /var/lib or /proc/sys;
- "umask": the umask to run under (default: the inherited one);
- "interrupt": {"at": POINT, "match": TEXT, "after": N, "signal": "KILL" or "STOP"}: the process sends
  itself the signal at that point, once. SIGKILL is an interrupted run (nothing of the module runs any
  more); SIGSTOP freezes it there until the test has looked at the files and sends SIGCONT or SIGKILL.

POINTs (TEXT must occur in the file name concerned):
- write: before a write(2) to a file named TEXT, once N bytes were written to such files;
- fallocate: before posix_fallocate of a file named TEXT;
- after_fallocate: right after it;
- rename: before rename(2) of a file named TEXT;
- mkstemp: before tempfile.mkstemp call number N + 1 whose DIR/PREFIX holds TEXT (no temporary yet);
- atomic_move: before AnsibleModule.atomic_move onto a file named TEXT (its temporary is complete);
- after_atomic_move: right after it (atomic_move has set its own mode, the module not yet);
- sysfs_write: before lowmemorykiller's parameter write number N + 1 (N writes done; the host layer's write_once);
- runtime_write: before sysctl's /proc/sys write number N + 1.

The module prints its result as JSON on stdout, exactly as under Ansible.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import importlib
import json
import os
import signal
import sys
import tempfile

from ansible.module_utils import basic

PACKAGE = 'ansible_collections.lowmem.hardening'


def file_name(fd):
    try:
        return os.readlink('/proc/self/fd/%d' % fd)
    except OSError:
        return ''


class Interrupt(object):
    """Sends this process a signal at one point of the run, once."""

    def __init__(self, spec):
        self.at = spec['at']
        self.match = spec.get('match', '')
        self.after = spec.get('after', 0)
        self.signal = getattr(signal, 'SIG' + spec.get('signal', 'KILL'))
        self.done = False
        self.count = 0

    def fire(self):
        if not self.done:
            self.done = True
            os.kill(os.getpid(), self.signal)

    def matches(self, name):
        return not self.done and self.match in os.fsdecode(name)

    def arm(self, module):
        hook = getattr(self, 'arm_' + self.at, None)
        if hook is None:
            raise SystemExit('driver: no interrupt point %r' % self.at)
        hook(module)

    def arm_write(self, module):
        real_write = os.write

        def write(fd, data):
            if not self.matches(file_name(fd)):
                return real_write(fd, data)
            if self.count >= self.after:
                self.fire()
            written = real_write(fd, data)
            self.count += written
            return written
        os.write = write

    def arm_fallocate(self, module):
        real_fallocate = os.posix_fallocate

        def posix_fallocate(fd, offset, length):
            if self.matches(file_name(fd)):
                self.fire()
            real_fallocate(fd, offset, length)
        os.posix_fallocate = posix_fallocate

    def arm_after_fallocate(self, module):
        real_fallocate = os.posix_fallocate

        def posix_fallocate(fd, offset, length):
            real_fallocate(fd, offset, length)
            if self.matches(file_name(fd)):
                self.fire()
        os.posix_fallocate = posix_fallocate

    def arm_mkstemp(self, module):
        real_mkstemp = tempfile.mkstemp

        def mkstemp(*args, **kwargs):
            if self.matches(os.path.join(kwargs.get('dir') or '', kwargs.get('prefix') or '')):
                if self.count == self.after:
                    self.fire()
                self.count += 1
            return real_mkstemp(*args, **kwargs)
        tempfile.mkstemp = mkstemp

    def arm_rename(self, module):
        real_rename = os.rename

        def rename(source, destination, *args, **kwargs):
            if self.matches(source):
                self.fire()
            return real_rename(source, destination, *args, **kwargs)
        os.rename = rename

    def arm_atomic_move(self, module):
        real_move = basic.AnsibleModule.atomic_move

        def atomic_move(ansible_module, source, destination, *args, **kwargs):
            if self.matches(destination):
                self.fire()
            return real_move(ansible_module, source, destination, *args, **kwargs)
        basic.AnsibleModule.atomic_move = atomic_move

    def arm_after_atomic_move(self, module):
        real_move = basic.AnsibleModule.atomic_move

        def atomic_move(ansible_module, source, destination, *args, **kwargs):
            result = real_move(ansible_module, source, destination, *args, **kwargs)
            if self.matches(destination):
                self.fire()
            return result
        basic.AnsibleModule.atomic_move = atomic_move

    def _count_calls(self, owner, name):
        real = getattr(owner, name)

        def counted(*args, **kwargs):
            if self.count == self.after:
                self.fire()
            self.count += 1
            return real(*args, **kwargs)
        setattr(owner, name, counted)

    def arm_sysfs_write(self, module):
        self._count_calls(importlib.import_module(PACKAGE + '.plugins.module_utils.host'), 'write_once')

    def arm_runtime_write(self, module):
        self._count_calls(module, 'write_runtime')


def main():
    spec_path = sys.argv[1]
    with open(spec_path) as spec_file:
        spec = json.load(spec_file)
    if spec.get('umask') is not None:
        os.umask(spec['umask'])
    module = importlib.import_module('%s.plugins.modules.%s' % (PACKAGE, spec['module']))
    for owner_name, values in sorted(spec.get('constants', {}).items()):
        owner = importlib.import_module('%s.%s' % (PACKAGE, owner_name))
        for name, value in sorted(values.items()):
            if not hasattr(owner, name):
                raise SystemExit('driver: %s has no %s to replace' % (owner_name, name))
            setattr(owner, name, value)
    if spec.get('interrupt'):
        Interrupt(spec['interrupt']).arm(module)
    args_path = spec_path + '.args'
    with open(args_path, 'w') as args_file:
        json.dump({'ANSIBLE_MODULE_ARGS': spec['args']}, args_file)
    # AnsibleModule reads its arguments from the file named on the command line.
    sys.argv = [module.__file__, args_path]
    module.main()


if __name__ == '__main__':
    main()
