# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An in-process model of lowmemorykiller's sysfs parameters (kernel/params.c semantics).

Files in a directory hold what the kernel would show; `write()` does what a write(2) to
/sys/module/lowmemorykiller/parameters/NAME does:
- an array write replaces the whole array and sets its size;
- elements are parsed like kstrto*(base 0): '+' allowed, 0x hex, leading-0 octal, one trailing newline;
- a 7th element, an empty or non-numeric element or an out-of-range one fails with EINVAL (or ERANGE)
  AFTER the earlier elements were stored;
- with Android's autodetection on, adj is converted after every write, failed ones included.
Faults: fail the Nth write with an errno, read-only, or store something other than what was written.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import errno
import os
import re

TYPES = {
    'short': (-32768, 32767),
    'int': (-2 ** 31, 2 ** 31 - 1),
    'uint': (0, 2 ** 32 - 1),
}

DEFAULTS = {
    'adj': ('array', 'short', [0, 1, 6, 12]),
    'minfree': ('array', 'uint', [1536, 2048, 4096, 16384]),
    'cost': ('scalar', 'int', 32),
    'debug_level': ('scalar', 'uint', 1),
}

_NUMBER = re.compile(r'^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$')


def kstrto(text, kind, range_errno=errno.EINVAL):
    """kstrto{s16,int,uint}(text, 0): one trailing newline allowed, nothing else."""
    if text.endswith('\n'):
        text = text[:-1]
    match = _NUMBER.match(text)
    if not match or (match.group(1) == '-' and kind == 'uint'):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    digits = match.group(2)
    if digits.lower().startswith('0x'):
        value = int(digits, 16)
    elif digits.startswith('0') and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits)
    value = -value if match.group(1) == '-' else value
    low, high = TYPES[kind]
    if not low <= value <= high:
        raise OSError(range_errno, os.strerror(range_errno))
    return value


def android_convert(values):
    if values and 0 < values[-1] <= 15:
        return [1000 if a == 15 else int(float(a) * 1000 / 17) for a in values]
    return values


class KernelModel(object):
    def __init__(self, path, autodetect=False, max_entries=6, range_errno=errno.EINVAL, vendor=None):
        self.path = str(path)
        self.autodetect = autodetect
        self.max_entries = max_entries
        self.range_errno = range_errno
        self.params = dict((k, (v[0], v[1], list(v[2]) if isinstance(v[2], list) else v[2]))
                           for k, v in DEFAULTS.items())
        self.params.update(vendor or {})
        self.writes = []          # (name, data) of every write attempted
        self.fail_write = {}      # write number (1-based) -> errno
        self.read_only = False
        self.store_instead = {}   # name -> value stored whatever is written
        if not os.path.isdir(self.path):
            os.makedirs(self.path)
        for name in self.params:
            self._show(name)

    def set(self, name, value):
        """Set a value as the kernel would hold it (no write semantics), e.g. a state left by someone else."""
        shape, kind = self.params[name][:2]
        self.params[name] = (shape, kind, value)
        self._show(name)

    def text(self, name):
        shape, dummy, value = self.params[name]
        if shape == 'array':
            return ','.join(str(v) for v in value) + '\n'
        if shape == 'bool':
            return ('Y' if value else 'N') + '\n'
        return '%d\n' % value

    def _show(self, name):
        with open(os.path.join(self.path, name), 'w') as f:
            f.write(self.text(name))

    def write(self, full_path, data):
        """What write(2) of `data` (bytes) to `full_path` does."""
        name = os.path.basename(full_path)
        if os.path.dirname(full_path) != self.path or name not in self.params:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), full_path)
        self.writes.append((name, data))
        code = self.fail_write.get(len(self.writes))
        if self.read_only:
            code = errno.EROFS
        if code:
            raise OSError(code, os.strerror(code), full_path)
        text = data.decode('ascii', 'replace')
        shape, kind = self.params[name][:2]
        try:
            if shape == 'array':
                self._write_array(name, kind, text)
            elif shape == 'bool':
                self._write_bool(name, text)
            else:
                self.params[name] = (shape, kind, kstrto(text, kind, self.range_errno))
        finally:
            if name in self.store_instead:
                self.params[name] = (shape, kind, self.store_instead[name])
            self._show(name)
        return len(data)

    def _write_array(self, name, kind, text):
        stored = []
        try:
            for element in text.split(','):
                if len(stored) == self.max_entries:
                    raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
                stored.append(kstrto(element, kind, self.range_errno))
        finally:
            if name == 'adj' and self.autodetect:
                stored = android_convert(stored)
            self.params[name] = ('array', kind, stored)

    def _write_bool(self, name, text):
        value = text[:-1] if text.endswith('\n') else text
        if value not in ('Y', 'y', 'N', 'n', '1', '0'):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        self.params[name] = ('bool', None, value in ('Y', 'y', '1'))
