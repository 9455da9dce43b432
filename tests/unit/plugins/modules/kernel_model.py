# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An in-process model of lowmemorykiller's sysfs parameters (kernel/params.c semantics).

Files in a directory hold what the kernel would show; `write()` does what a write(2) to
/sys/module/lowmemorykiller/parameters/NAME does. Checked against the real kernel (Debian 12's 6.1
with the test driver of tests/kernel) by test_kernel_param_writes.py and fixtures/param_writes.json:
- sysfs takes at most one page (4096 bytes) of a write and ignores the rest; a write of 0 bytes
  changes nothing (the driver is not even called); the value ends at the first NUL byte;
- an array write replaces the whole array and sets its size;
- elements are parsed like kstrto*(base 0): one leading '+' (or '-' for signed types), 0x hex,
  leading-0 octal, one trailing newline and nothing else (no spaces);
- a 7th element ("NAME: can only take 6 arguments" in the kernel log), an empty or non-numeric
  element fail with EINVAL, a number outside the type (or above 2**64-1) with ERANGE, AFTER the
  earlier elements were stored; a failed first element leaves an empty array, which reads back as
  0 bytes (no newline);
- with Android's autodetection on, adj is converted after every write, failed ones included, with
  the driver's short arithmetic (C division truncating toward zero, the result wrapped to a short).
Faults: fail the Nth write with an errno, read-only, or store something other than what was written.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import errno
import os
import string

TYPES = {
    'short': (-32768, 32767),
    'int': (-2 ** 31, 2 ** 31 - 1),
    'uint': (0, 2 ** 32 - 1),
}

# The staging driver declares minfree an array of uint. The test bed's driver (tests/kernel)
# declares it an array of int; KernelModel(types={'minfree': 'int'}) behaves like that one.
DEFAULTS = {
    'adj': ('array', 'short', [0, 1, 6, 12]),
    'minfree': ('array', 'uint', [1536, 2048, 4096, 16384]),
    'cost': ('scalar', 'int', 32),
    'debug_level': ('scalar', 'uint', 1),
}

PAGE_SIZE = 4096  # kernfs hands a sysfs store at most one page of a write
U64_MAX = 2 ** 64 - 1
OOM_ADJUST_MAX = 15
OOM_SCORE_ADJ_MAX = 1000
OOM_DISABLE = -17


def _fail(code):
    raise OSError(code, os.strerror(code))


def _kstrtoull(text):
    """lib/kstrtox.c _kstrtoull(s, 0): base from the prefix, ERANGE on overflow before any syntax check."""
    if text[:1] == '0':
        if text[1:2] in ('x', 'X') and text[2:3] and text[2] in string.hexdigits:
            base, text = 16, text[2:]
        else:
            base = 8
    else:
        base = 10
    value = digits = 0
    overflow = False
    for char in text:
        if char not in string.hexdigits or int(char, 16) >= base:
            break
        value = value * base + int(char, 16)
        overflow = overflow or value > U64_MAX
        digits += 1
    if overflow:
        _fail(errno.ERANGE)
    if not digits:
        _fail(errno.EINVAL)
    rest = text[digits:]
    if rest[:1] == '\n':
        rest = rest[1:]
    if rest:
        _fail(errno.EINVAL)
    return value


def kstrto(text, kind, range_errno=errno.ERANGE):
    """kstrto{s16,int,uint}(text, 0) as param_set_{short,int,uint} call it.

    range_errno: the errno for a number that is valid but outside the type. The test bed's 6.1
    (kstrtos16 and friends) answers ERANGE; 3.x kernels, whose param_set_* parsed a long and checked
    the range themselves, answered EINVAL (ERANGE only beyond a long).
    """
    if kind == 'uint':
        value = _kstrtoull(text[1:] if text[:1] == '+' else text)   # kstrtoull: no sign but '+'
    elif text[:1] == '-':
        value = -_kstrtoull(text[1:])                                # kstrtoll: '-' then digits
        if value < -2 ** 63:
            _fail(errno.ERANGE)
    else:
        value = _kstrtoull(text[1:] if text[:1] == '+' else text)
        if value > 2 ** 63 - 1:
            _fail(errno.ERANGE)
    low, high = TYPES[kind]
    if not low <= value <= high:
        _fail(range_errno)
    return value


def _c_div(a, b):
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def _short(value):
    return (value + 2 ** 15) % 2 ** 16 - 2 ** 15


def oom_adj_to_score_adj(oom_adj):
    """The Android driver's lowmem_oom_adj_to_score_adj(), in short arithmetic."""
    if oom_adj == OOM_ADJUST_MAX:
        return OOM_SCORE_ADJ_MAX
    return _short(_c_div(oom_adj * OOM_SCORE_ADJ_MAX, -OOM_DISABLE))


def android_convert(values):
    """adj after Android's autodetection: converted when the last entry looks like an oom_adj value."""
    if not values or values[-1] > OOM_ADJUST_MAX or oom_adj_to_score_adj(values[-1]) <= OOM_ADJUST_MAX:
        return values
    return [oom_adj_to_score_adj(a) for a in values]


class KernelModel(object):
    """The driver's parameters in `path`.

    autodetect: Android's oom_adj autodetection on writes to adj. max_entries: size of adj and
    minfree. range_errno: see kstrto(). types: {name: 'short'|'int'|'uint'} instead of the driver's
    declared types (DEFAULTS). vendor: {name: (shape, type, value)} more parameters.
    `log` collects the kernel messages the writes cause, as dmesg would show them.
    """

    def __init__(self, path, autodetect=False, max_entries=6, range_errno=errno.ERANGE, vendor=None, types=None):
        self.path = str(path)
        self.autodetect = autodetect
        self.max_entries = max_entries
        self.range_errno = range_errno
        self.params = dict((k, (v[0], (types or {}).get(k, v[1]), list(v[2]) if isinstance(v[2], list) else v[2]))
                           for k, v in DEFAULTS.items())
        self.params.update(vendor or {})
        self.writes = []          # (name, data) of every write attempted
        self.log = []             # kernel messages
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
        """What a read shows: arrays comma-joined with a newline, and nothing at all when empty."""
        shape, dummy, value = self.params[name]
        if shape == 'array':
            return ','.join(str(v) for v in value) + '\n' if value else ''
        if shape == 'bool':
            return ('Y' if value else 'N') + '\n'
        return '%d\n' % value

    def _show(self, name):
        with open(os.path.join(self.path, name), 'w') as f:
            f.write(self.text(name))

    def write(self, full_path, data):
        """What write(2) of `data` (bytes) to `full_path` does: the number of bytes taken, or OSError."""
        name = os.path.basename(full_path)
        if os.path.dirname(full_path) != self.path or name not in self.params:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), full_path)
        self.writes.append((name, data))
        code = self.fail_write.get(len(self.writes))
        if self.read_only:
            code = errno.EROFS
        if code:
            raise OSError(code, os.strerror(code), full_path)
        data = data[:PAGE_SIZE]
        if not data:
            return 0
        text = data.decode('latin-1').split('\0', 1)[0]
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
        """kernel/params.c param_array(): element by element, each stored before the next is parsed."""
        stored = []
        try:
            for element in text.split(','):
                if len(stored) == self.max_entries:
                    self.log.append('%s: can only take %d arguments' % (name, self.max_entries))
                    _fail(errno.EINVAL)
                stored.append(kstrto(element, kind, self.range_errno))
        finally:
            if name == 'adj' and self.autodetect:
                stored = self._autodetect(stored)
            self.params[name] = ('array', kind, stored)

    def _autodetect(self, values):
        converted = android_convert(values)
        if converted is not values and self.params.get('debug_level', (None, None, 1))[2] >= 1:
            self.log.append('lowmemorykiller: lowmem_shrink: convert oom_adj to oom_score_adj:')
            self.log.extend('lowmemorykiller: oom_adj %d => oom_score_adj %d' % pair for pair in zip(values, converted))
        return converted

    def _write_bool(self, name, text):
        value = text[:-1] if text.endswith('\n') else text
        if value not in ('Y', 'y', 'N', 'n', '1', '0'):
            _fail(errno.EINVAL)
        self.params[name] = ('bool', None, value in ('Y', 'y', '1'))
