# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic for Android's lowmemorykiller parameters: no I/O here.

Kernel facts (drivers/staging/android/lowmemorykiller.c, kernel/params.c):
- adj and minfree are arrays; a write replaces the whole array and sets its size.
- Reads give the elements comma-joined with a trailing newline.
- The driver uses the first min(len(adj), len(minfree)) pairs.
- Android kernels may convert adj written on the old oom_adj scale (see android_adj).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

DEFAULT_PATH = '/sys/module/lowmemorykiller/parameters'
ARRAY_PARAMS = ('adj', 'minfree')
NAMED_PARAMS = ('adj', 'minfree', 'cost', 'debug_level')
DEFAULT_MAX_ENTRIES = 6

OOM_SCORE_ADJ_MAX = 1000
OOM_DISABLE = -17  # oom_adj scale
OOM_ADJUST_MAX = 15  # oom_adj scale

# Accepted ranges. adj is a short from 3.8 on; below -1000 means nothing to the driver.
LIMITS = {
    'adj': (-1000, 32767),
    'minfree': (0, 2 ** 31 - 1),
    # cost is the shrinker's seeks: the kernel divides by it, so 0 is refused.
    'cost': (1, 2 ** 31 - 1),
    'debug_level': (0, 2 ** 32 - 1),
}

# state=disabled: adj 9999 is above any oom_score_adj (max 1000) and any oom_adj (max 15),
# so no process is ever a candidate; minfree 1 (one page) keeps the shrinker from acting.
DISABLED_VALUES = {'adj': [9999], 'minfree': [1]}

PERSIST_METHODS = ('tmpfiles', 'sysfsutils', 'openrc', 'cron')
PERSIST_FILES = {
    'tmpfiles': '/etc/tmpfiles.d/lowmemorykiller.conf',
    'sysfsutils': '/etc/sysfs.d/lowmemorykiller.conf',
    'openrc': '/etc/local.d/lowmemorykiller.start',
    'cron': '/etc/cron.d/lowmemorykiller',
}
PERSIST_MODES = {'tmpfiles': 0o644, 'sysfsutils': 0o644, 'openrc': 0o755, 'cron': 0o644}

_UNITS = {'K': 1, 'M': 2, 'G': 3, 'T': 4}
_SIZE_RE = re.compile(r'^(\d+(?:\.\d+)?)\s*([KMGT])(?:i?B)?$', re.IGNORECASE)
_PERCENT_RE = re.compile(r'^(\d+(?:\.\d+)?)\s*%$')
# Both end up in boot-time files: \Z, because $ also matches before a final newline.
_SAFE_PATH_RE = re.compile(r'^/[A-Za-z0-9._/+-]*\Z')
_PARAM_NAME_RE = re.compile(r'^[A-Za-z0-9_]+\Z')
_INT_RE = re.compile(r'^[+-]?\d+$')


class ParamError(ValueError):
    """Bad input. The message names the parameter and the accepted form."""


# ---------------------------------------------------------------------------
# Reading what the kernel shows

def parse_kernel_value(text):
    """Parse a parameter as read from sysfs.

    '0,1,6,12\\n' -> [0, 1, 6, 12]; '32\\n' -> 32; 'Y\\n' -> True; anything else: the text.
    """
    text = text.strip()
    if text in ('Y', 'N'):
        return text == 'Y'
    parts = text.split(',')
    if all(_INT_RE.match(part) for part in parts):
        values = [int(part) for part in parts]
        return values if len(values) > 1 else values[0]
    return text


def parse_kernel_array(text):
    """Parse an array parameter: always a list ('\\n' is the empty array)."""
    text = text.strip()
    if not text:
        return []
    value = parse_kernel_value(text)
    if isinstance(value, bool) or not isinstance(value, (int, list)):
        raise ValueError('not an integer array: %r' % text)
    return value if isinstance(value, list) else [value]


def format_value(value):
    """The text to write for a value (no trailing newline)."""
    if isinstance(value, bool):
        return 'Y' if value else 'N'
    if isinstance(value, list):
        return ','.join(str(v) for v in value)
    return str(value)


def parse_params(texts):
    """{name: text} as read from the parameters directory -> {name: value}."""
    values = {}
    for name, text in texts.items():
        values[name] = parse_kernel_array(text) if name in ARRAY_PARAMS else parse_kernel_value(text)
    return values


# ---------------------------------------------------------------------------
# Android's oom_adj autodetection

def android_adj(values):
    """What an autodetecting Android kernel stores after `values` is written to adj.

    If the last element is 1..15 (oom_adj scale) every element a becomes
    1000 if a == 15 else a * 1000 // 17, with C's division truncating toward zero,
    stored in the driver's short (so -1000 becomes 6713, as a real kernel shows).
    """
    if not values or not 0 < values[-1] <= OOM_ADJUST_MAX:
        return list(values)
    return [OOM_SCORE_ADJ_MAX if a == OOM_ADJUST_MAX else _c_short(_c_div(a * OOM_SCORE_ADJ_MAX, -OOM_DISABLE))
            for a in values]


def _c_short(value):
    return (value + 0x8000) % 0x10000 - 0x8000


def _c_div(a, b):
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def expected_readbacks(name, value, autodetect=None):
    """Every value the kernel may show after `value` is written to `name`.

    autodetect: True/False when known for this kernel, None when not yet seen.
    """
    if name != 'adj':
        return [value]
    converted = android_adj(value)
    if converted == value or autodetect is False:
        return [value]
    if autodetect:
        return [converted]
    return [value, converted]


def observe_autodetect(written, shown):
    """Whether a write of adj revealed autodetection: True, False or None (no evidence)."""
    converted = android_adj(written)
    if converted == written:
        return None
    if shown == converted:
        return True
    if shown == written:
        return False
    return None


# ---------------------------------------------------------------------------
# Sizes

def to_pages(value, page_size, mem_total_bytes, param='minfree'):
    """One minfree entry to pages.

    int or digits: pages. '512K', '64M', '64MiB', '1G': binary units (rounded up to whole pages).
    '12.5%': percent of MemTotal (rounded up). Result must be at least 0 pages for ints and
    at least one page for sizes and percentages.
    """
    form = ("an integer number of pages, a size with a unit (512K, 64M, 64MiB, 1G) "
            "or a percentage of MemTotal (12.5%)")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise ParamError('%s: %r is not %s' % (param, value, form))
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if _INT_RE.match(text):
        return int(text)
    match = _SIZE_RE.match(text)
    if match:
        size = float(match.group(1)) * 1024 ** _UNITS[match.group(2).upper()]
        pages = _ceil_div(size, page_size)
        if pages < 1:
            raise ParamError('%s: %r is less than one page' % (param, value))
        return pages
    match = _PERCENT_RE.match(text)
    if match:
        percent = float(match.group(1))
        if not 0 < percent <= 100:
            raise ParamError('%s: %r is out of range: a percentage of MemTotal must be above 0%% and at most 100%%'
                             % (param, value))
        if not mem_total_bytes:
            raise ParamError('%s: %r needs MemTotal, which could not be read from /proc/meminfo' % (param, value))
        return max(1, _ceil_div(mem_total_bytes * percent / 100.0, page_size))
    raise ParamError('%s: %r is not %s' % (param, value, form))


def _ceil_div(a, b):
    return int(-(-a // b))


def _check_int(param, value, limits):
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError('%s: %r is not an integer' % (param, value))
    if not low <= value <= high:
        raise ParamError('%s: %d is out of range: accepted %d to %d' % (param, value, low, high))
    return value


def _check_array(param, values, max_entries):
    if not values:
        raise ParamError('%s: give at least one value (up to %d)' % (param, max_entries))
    if len(values) > max_entries:
        raise ParamError('%s: %d entries given, the kernel holds at most %d (see max_entries)'
                         % (param, len(values), max_entries))
    for previous, value in zip(values, values[1:]):
        if value <= previous:
            raise ParamError('%s: values must be strictly ascending, got %s'
                             % (param, format_value(values)))
    return values


# ---------------------------------------------------------------------------
# Normalising a request

def normalise_request(state, page_size, mem_total_bytes, adj=None, minfree=None, cost=None,
                      debug_level=None, extra_params=None, max_entries=DEFAULT_MAX_ENTRIES):
    """Validate the module's options and return {name: value to write}.

    Only checks that need no knowledge of the kernel's current values. Raises ParamError.
    """
    if state in ('disabled', 'restored'):
        given = [name for name, value in (('adj', adj), ('minfree', minfree)) if value is not None]
        if given:
            raise ParamError('%s: not allowed with state=%s (it writes fixed values); use state=present'
                             % (', '.join(given), state))
    if state == 'restored':
        for name, value in (('cost', cost), ('debug_level', debug_level), ('extra_params', extra_params)):
            if value is not None:
                raise ParamError('%s: not allowed with state=restored' % name)
        return {}

    desired = {}
    if state == 'disabled':
        desired.update((k, list(v)) for k, v in DISABLED_VALUES.items())
    if minfree is not None:
        pages = [to_pages(v, page_size, mem_total_bytes) for v in _as_list(minfree)]
        desired['minfree'] = _check_array('minfree', [_check_int('minfree', v, LIMITS['minfree']) for v in pages],
                                          max_entries)
    if adj is not None:
        desired['adj'] = _check_array('adj', [_check_int('adj', _int_from(v), LIMITS['adj'])
                                              for v in _as_list(adj)], max_entries)
    if adj is not None and minfree is not None and len(desired['adj']) != len(desired['minfree']):
        raise ParamError('adj, minfree: given together they must have the same number of entries '
                         '(adj has %d, minfree has %d)' % (len(desired['adj']), len(desired['minfree'])))
    if cost is not None:
        desired['cost'] = _check_int('cost', cost, LIMITS['cost'])
    if debug_level is not None:
        desired['debug_level'] = _check_int('debug_level', debug_level, LIMITS['debug_level'])
    for name, value in sorted((extra_params or {}).items()):
        if not _PARAM_NAME_RE.match(name):
            raise ParamError('extra_params: %r is not a parameter name (letters, digits and _)' % name)
        if name in NAMED_PARAMS:
            raise ParamError('extra_params: %s has its own option; set %s instead' % (name, name))
        desired[name] = _extra_value(name, value)
    if not desired:
        raise ParamError('state=present needs at least one of adj, minfree, cost, debug_level, extra_params')
    return desired


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _int_from(value):
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return value


def _extra_value(name, value):
    param = 'extra_params.%s' % name
    form = 'an integer, a list of integers or a boolean'
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, list):
        values = [_int_from(v) for v in value]
        if not values or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise ParamError('%s: %r is not %s' % (param, value, form))
        return values
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in ('Y', 'N', 'TRUE', 'FALSE', 'YES', 'NO'):
            return text.upper() in ('Y', 'TRUE', 'YES')
        parsed = parse_kernel_value(text)
        if isinstance(parsed, (int, list)):
            return parsed
    raise ParamError('%s: %r is not %s' % (param, value, form))


# ---------------------------------------------------------------------------
# Planning against the kernel's current values

def plan_writes(desired, current, autodetect=None):
    """The ordered list of (name, value) to write so that the kernel shows `desired`.

    current: {name: value} as the kernel shows it. Raises ParamError for unknown names.
    """
    unknown = sorted(name for name in desired if name not in current)
    if unknown:
        raise ParamError('%s: no such parameter in this kernel (it has: %s)'
                         % (', '.join(option_of(name) for name in unknown), ', '.join(sorted(current)) or 'none'))
    writes = []
    for name in _write_order(desired):
        value = _match_kind(desired[name], current[name])
        if current[name] not in expected_readbacks(name, value, autodetect):
            writes.append((name, value))
    return writes


def option_of(name):
    return name if name in NAMED_PARAMS else 'extra_params.%s' % name


def _match_kind(value, shown):
    """Vendor parameters: give 0/1 to a Y/N one as a boolean, and a boolean to an integer one as 0/1."""
    if isinstance(shown, bool) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, bool) and isinstance(shown, int) and not isinstance(shown, bool):
        return int(value)
    return value


def _write_order(names):
    named = [name for name in NAMED_PARAMS if name in names]
    return named + sorted(name for name in names if name not in NAMED_PARAMS)


def predict_after(current, writes, autodetect=None):
    """What the kernel will show once `writes` are applied."""
    after = dict(current)
    for name, value in writes:
        after[name] = expected_readbacks(name, value, autodetect)[0]
    return after


def ignored_entries_warning(desired, after):
    """When only one of adj/minfree was given, say which entries of the other are unused."""
    given = [name for name in ARRAY_PARAMS if name in desired]
    if len(given) != 1:
        return None
    other = 'minfree' if given[0] == 'adj' else 'adj'
    used = len(after.get(given[0], []))
    other_values = after.get(other, [])
    if len(other_values) > used:
        return ('%s has %s, so the driver uses only the first %d of %s (%s); entries %s are ignored. '
                'Give %s too to set the whole table.'
                % (given[0], _entries(used), used, other, format_value(other_values),
                   format_value(other_values[used:]), other))
    if len(other_values) < used:
        return ('%s has only %s, so the driver uses only the first %d of %s; entries %s are ignored. '
                'Give %s too to set the whole table.'
                % (other, _entries(len(other_values)), len(other_values), given[0],
                   format_value(after[given[0]][len(other_values):]), other))
    return None


def _entries(count):
    return '1 entry' if count == 1 else '%d entries' % count


# ---------------------------------------------------------------------------
# The effective table

def effective_table(values, page_size, mem_total_bytes=None):
    """The (minfree, adj) pairs the driver uses, in pages, bytes and % of MemTotal."""
    adj = values.get('adj') or []
    minfree = values.get('minfree') or []
    table = []
    for pages, score in zip(minfree, adj):
        nbytes = pages * page_size
        table.append({
            'minfree_pages': pages,
            'minfree_bytes': nbytes,
            # three significant digits: one page of 512 MiB is 0.000763%, not 0
            'minfree_percent': float('%.3g' % (100.0 * nbytes / mem_total_bytes)) if mem_total_bytes else None,
            'adj': score,
        })
    return table


def is_disabled(values):
    """True when no process can be selected: every used adj is above any oom_score_adj."""
    n = min(len(values.get('adj') or []), len(values.get('minfree') or []))
    return all(a > OOM_SCORE_ADJ_MAX for a in values['adj'][:n]) if n else True


# ---------------------------------------------------------------------------
# Persistence at boot

def check_path(path):
    """The parameters directory must be absolute and plain: it is written into boot files."""
    if not path.startswith('/') or not _SAFE_PATH_RE.match(path) or '//' in path or '/../' in path + '/':
        raise ParamError('path: %r must be an absolute path of letters, digits and . _ / + - '
                         '(it is written into boot-time files)' % path)
    return path.rstrip('/') or '/'


def choose_persist_method(requested, has_systemd, has_openrc, has_cron):
    """persist=auto -> systemd-tmpfiles, then OpenRC local.d (has_openrc: its `local` service starts at
    boot), then cron @reboot."""
    if requested != 'auto':
        return requested
    if has_systemd:
        return 'tmpfiles'
    if has_openrc:
        return 'openrc'
    if has_cron:
        return 'cron'
    raise ParamError('persist: auto found no boot-time mechanism on this host (no systemd, no OpenRC, '
                     'no cron daemon); install cron, choose tmpfiles/sysfsutils/openrc/cron, or set persist=none')


def boot_file_header(path):
    """The first line of every boot file: it says which parameters directory the file is for."""
    return '# Managed by lowmem.hardening.lowmemorykiller: written at boot to %s.\n' % path


def render_persistence(method, path, values):
    """The boot-time file that writes `values` ({name: value}) to `path`."""
    header = boot_file_header(path) + '# Local changes are overwritten on the next run.\n'
    items = [(name, format_value(values[name])) for name in _write_order(values)]
    if method == 'tmpfiles':
        return header + ''.join('w %s/%s - - - - %s\n' % (path, name, text) for name, text in items)
    if method == 'sysfsutils':
        if not path.startswith('/sys/'):
            raise ParamError('persist: sysfsutils only writes under /sys, and path is %s; '
                             'choose tmpfiles, openrc or cron' % path)
        rel = path[len('/sys/'):]
        return header + ''.join('%s/%s = %s\n' % (rel, name, text) for name, text in items)
    if method == 'openrc':
        return '#!/bin/sh\n' + header + ''.join('echo %s > %s/%s\n' % (text, path, name) for name, text in items)
    if method == 'cron':
        return (header + 'SHELL=/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n'
                + ''.join('@reboot root echo %s > %s/%s\n' % (text, path, name) for name, text in items))
    raise ValueError('unknown persistence method %r' % method)


def persisted_names(desired, previously_persisted, shown):
    """Which parameters the boot file holds: the table always, plus whatever was ever set."""
    names = set(previously_persisted or ()) | set(desired) | set(ARRAY_PARAMS)
    return _write_order([name for name in names if name in shown])


def render_params(values):
    """A stable text form of {name: value} for diffs."""
    return ''.join('%s = %s\n' % (name, format_value(values[name])) for name in _write_order(values))
