# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the zram module: sizes, the zram sysfs texts, the files it writes, planning.

Nothing here touches the host; plugins/modules/zram.py reads the host and applies the plan.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import re
from fractions import Fraction

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.lowmem.hardening.plugins.module_utils.host import format_size

KIB = 1024
MIB = 1024 ** 2
GIB = 1024 ** 3

DEVICE = '/dev/zram0'
NAME = 'zram0'
# zram bigger than this many times MemTotal makes a host thrash instead of kill: refused.
MAX_RAM_FACTOR = 2
# mkswap refuses fewer than 10 pages.
MIN_PAGES = 10
DEFAULT_PRIORITY = 100

MARKER = 'Managed by lowmem.hardening.zram'
HEADER = '# %s; state=absent removes it. Changes made here are overwritten.\n' % MARKER
# systemd-zram-generator's units for zram0
SETUP_SERVICE = 'systemd-zram-setup@zram0.service'
SWAP_UNIT = 'dev-zram0.swap'
# the module's own boot-time setup (method=unit)
UNIT_NAME = 'lowmem-zram.service'

# The fields of /sys/block/zramN/mm_stat, in the kernel's order (Documentation/admin-guide/blockdev/zram.rst);
# kernels before 4.x have fewer, 5.x+ one more (huge_pages_since).
MM_STAT_FIELDS = ('orig_data_size', 'compr_data_size', 'mem_used_total', 'mem_limit', 'mem_used_max',
                  'same_pages', 'pages_compacted', 'huge_pages', 'huge_pages_since')

_SIZE_RE = re.compile(r'^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$', re.IGNORECASE)
_PERCENT_RE = re.compile(r'^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$')
_RAM_RE = re.compile(r'^\s*ram\s*(?:([*/])\s*([0-9]+(?:\.[0-9]+)?))?\s*$', re.IGNORECASE)
_UNIT = {'k': KIB, 'm': MIB, 'g': GIB, 't': 1024 ** 4}
_ALGORITHM_RE = re.compile(r'^[a-z0-9][a-z0-9_-]{0,63}$')


class ZramError(ValueError):
    """A request that must be refused; the message names the parameter."""


# kind 'ram': value is a Fraction of MemTotal; kind 'bytes': value is an int
Size = collections.namedtuple('Size', 'kind value text')
# exists: /sys/block/zram0 is there; disksize 0 when not initialised; algorithm the selected one or None;
# algorithms what comp_algorithm lists; swap: host.SwapArea of /dev/zram0 or None; stats: parse_mm_stat
Device = collections.namedtuple('Device', 'exists disksize algorithm algorithms swap stats')
Request = collections.namedtuple('Request', 'state size algorithm priority method')
Host = collections.namedtuple('Host', [
    'mem_total',       # bytes
    'mem_available',   # bytes
    'page_size',
    'systemd',         # systemd is the init (/run/systemd/system exists)
    'generator',       # systemd-zram-generator is installed
    'files',           # {'config'|'dropin'|'unit': bytes or None} as they are now
    'misowned',        # [key] of those files not root-owned 0644 (a boot file others could change)
    'enabled',         # the unit's enablement symlink exists
    'device',          # Device
])
Plan = collections.namedtuple('Plan', [
    'method',          # 'generator' or 'unit' (present), None (absent)
    'files',           # {'config'|'dropin'|'unit': bytes or None}: the files after the run
    'write',           # [key] of files whose content (or mode/owner) changes
    'enable', 'disable',
    'teardown',        # swap off and reset the device as it is
    'setup',           # create the device now through the method
    'unload',          # absent: unload the zram module afterwards
    'size', 'algorithm', 'priority', 'active',  # the device afterwards (size in bytes, 0 when none)
    'changed',
])


def parse_size(value):
    """size -> Size. Accepts a fraction of RAM as systemd-zram-generator writes it (ram, ram / 2, ram * 0.75),
    a percentage of RAM (50%, 12.5%), bytes as an integer, or a string with a binary unit (512M, 1G, 1.5GiB)."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise ZramError('size: %r is not a size; use ram / 2, 50%%, 512M or 1G' % (value,))
    if isinstance(value, int):
        return _bytes(Fraction(value), value)
    text = to_text(value, errors='surrogate_or_strict')
    match = _RAM_RE.match(text)
    if match:
        factor = Fraction(1)
        if match.group(1):
            number = Fraction(match.group(2))
            if number == 0:
                raise ZramError('size: %r divides or multiplies RAM by zero' % (text,))
            factor = number if match.group(1) == '*' else 1 / number
        return Size('ram', factor, text.strip())
    match = _PERCENT_RE.match(text)
    if match:
        factor = Fraction(match.group(1)) / 100
        if factor == 0:
            raise ZramError('size: %r must be greater than zero' % (text,))
        return Size('ram', factor, text.strip())
    match = _SIZE_RE.match(text)
    if not match:
        raise ZramError('size: %r is not a size; use a fraction of RAM (ram / 2, ram * 0.75), a percentage of RAM '
                        '(50%%), bytes (268435456) or a size with a binary unit (512M, 1G, 1.5GiB)' % (text,))
    number = Fraction(match.group(1))
    if match.group(2):
        number *= _UNIT[match.group(2).lower()]
    return _bytes(number, text.strip())


def _bytes(number, text):
    if number.denominator != 1:
        raise ZramError('size: %r is not a whole number of bytes' % (text,))
    if number <= 0:
        raise ZramError('size: %r must be greater than zero' % (text,))
    return Size('bytes', int(number), text if isinstance(text, str) else '%d' % text)


def size_bytes(size, mem_total, page_size, whole_mib=False):
    """The device's disksize for size on a host with mem_total bytes of RAM: rounded up to a whole page, as the
    kernel rounds disksize; whole_mib: rounded down to a whole MiB, as systemd-zram-generator sets it (it
    evaluates zram-size in MiB and truncates)."""
    raw = size.value if size.kind == 'bytes' else int(Fraction(mem_total) * size.value)
    if whole_mib:
        return raw // MIB * MIB
    return -(-raw // page_size) * page_size


def check_size(size, nbytes, mem_total, page_size):
    """Refuse a device larger than MAX_RAM_FACTOR x RAM, or smaller than mkswap accepts."""
    if nbytes > MAX_RAM_FACTOR * mem_total:
        raise ZramError('size: %s is %s, more than %d x RAM (MemTotal %s); zram that large makes the host thrash '
                        'instead of kill. Use at most ram * %d (%d%%)'
                        % (size.text, format_size(nbytes), MAX_RAM_FACTOR, format_size(mem_total), MAX_RAM_FACTOR,
                           100 * MAX_RAM_FACTOR))
    if nbytes < MIN_PAGES * page_size:
        raise ZramError('size: %s is %s, below the minimum mkswap accepts, %d pages = %s'
                        % (size.text, format_size(nbytes), MIN_PAGES, format_size(MIN_PAGES * page_size)))


def generator_size(size):
    """zram-size= for systemd-zram-generator: an expression in MiB of `ram` (MemTotal in MiB), so that a fraction
    of RAM follows the RAM at every boot; a fixed size in whole MiB (the generator truncates to those)."""
    if size.kind == 'ram':
        factor = size.value
        if factor == 1:
            return 'ram'
        if factor.numerator == 1:
            return 'ram / %d' % factor.denominator
        if factor.denominator == 1:
            return 'ram * %d' % factor.numerator
        return 'ram * %d / %d' % (factor.numerator, factor.denominator)
    return '%d' % (size.value // MIB)


def check_algorithm(algorithm, available):
    """Refuse an algorithm name that is not one, or that the kernel does not list (when it lists any)."""
    if not _ALGORITHM_RE.match(algorithm):
        raise ZramError('algorithm: %r is not a compression algorithm name (lzo-rle, lz4, zstd, ...)' % (algorithm,))
    if available and algorithm not in available:
        raise ZramError('algorithm: this kernel does not offer %s for zram; /sys/block/%s/comp_algorithm lists %s'
                        % (algorithm, NAME, ', '.join(available)))


# ---- reading the kernel's texts ----------------------------------------------------------

def parse_disksize(text):
    """/sys/block/zramN/disksize -> bytes (0: not initialised)."""
    try:
        return int(to_text(text).strip() or '0')
    except ValueError:
        return 0


def parse_comp_algorithm(text):
    """/sys/block/zramN/comp_algorithm ('lzo [lzo-rle] lz4 zstd') -> (selected or None, [listed])."""
    selected, listed = None, []
    for word in to_text(text).split():
        if word.startswith('[') and word.endswith(']'):
            word = word[1:-1]
            selected = word
        listed.append(word)
    return selected, listed


def parse_mm_stat(text):
    """/sys/block/zramN/mm_stat -> {field: int} for the fields this kernel has (bytes or pages as the kernel
    documents them), with 'ratio' (orig_data_size / compr_data_size, None while nothing is stored)."""
    values = {}
    for name, word in zip(MM_STAT_FIELDS, to_text(text).split()):
        try:
            values[name] = int(word)
        except ValueError:
            break
    if values.get('compr_data_size'):
        values['ratio'] = round(values['orig_data_size'] / values['compr_data_size'], 2)
    elif values:
        values['ratio'] = None
    return values


def swap_of(areas, device=DEVICE):
    """The SwapArea of device in host.parse_swaps's list, or None."""
    for area in areas:
        if to_text(area.path, errors='surrogate_or_replace') == device:
            return area
    return None


# ---- the files -----------------------------------------------------------------------------

def render_generator_config(size, algorithm, priority):
    """/etc/systemd/zram-generator.conf for systemd-zram-generator: zram0 only."""
    lines = [HEADER.rstrip('\n'), '[%s]' % NAME, 'zram-size = %s' % generator_size(size)]
    if algorithm:
        lines.append('compression-algorithm = %s' % algorithm)
    lines.append('swap-priority = %d' % priority)
    return ('\n'.join(lines) + '\n').encode('ascii')


def render_oomd_dropin():
    """A drop-in for the generator's swap unit: on Debian 12 neither systemd-oomd.service (DefaultDependencies=no,
    only Before=multi-user.target) nor the generated dev-zram0.swap orders one after the other."""
    return (HEADER + '# systemd-oomd reads the swap devices when it starts: zram swap must be on before it.\n'
            '[Unit]\nBefore=systemd-oomd.service\n').encode('ascii')


def render_unit(tools, nbytes, algorithm, priority):
    """The boot-time setup of method=unit: a oneshot service that runs each tool without a shell. tools holds the
    absolute paths of modprobe, zramctl, mkswap, swapon, swapoff.

    Loading zram makes zram0. zramctl --reset also removes the device, so the stop unloads zram where nothing
    else uses it, for the next start's modprobe to make zram0 again; where something does, that start fails
    rather than guess another device."""
    start = ['%s zram' % tools['modprobe']]
    zramctl = '%s --size %d' % (tools['zramctl'], nbytes)
    if algorithm:
        zramctl += ' --algorithm %s' % algorithm
    start += [zramctl + ' ' + DEVICE, '%s %s' % (tools['mkswap'], DEVICE),
              '%s --priority %d %s' % (tools['swapon'], priority, DEVICE)]
    lines = [
        HEADER.rstrip('\n'),
        '[Unit]',
        'Description=Compressed swap in RAM on %s (lowmem.hardening.zram)' % DEVICE,
        'Documentation=man:zramctl(8)',
        'DefaultDependencies=no',
        # before swap.target as swap units are, and before systemd-oomd, which reads the swaps when it starts
        'Before=swap.target systemd-oomd.service shutdown.target',
        'After=systemd-modules-load.service',
        '',
        '[Service]',
        'Type=oneshot',
        'RemainAfterExit=yes',
    ]
    lines += ['ExecStart=%s' % line for line in start]
    # "-": already swapped off (the module does that first) is fine; the reset fails while it is still in use
    lines += ['ExecStop=-%s %s' % (tools['swapoff'], DEVICE), 'ExecStop=%s --reset %s' % (tools['zramctl'], DEVICE),
              'ExecStop=-%s -r zram' % tools['modprobe'], '', '[Install]', 'WantedBy=swap.target']
    return ('\n'.join(lines) + '\n').encode('ascii')


def is_ours(content):
    return content is not None and MARKER.encode('ascii') in content


def config_sections(content):
    """The [sections] of a zram-generator.conf (bytes), in order."""
    sections = []
    for line in to_text(content or b'', errors='surrogate_or_replace').splitlines():
        line = line.strip()
        if line.startswith('[') and line.endswith(']'):
            sections.append(line[1:-1].strip())
    return sections


def _check_foreign_config(content, path):
    """A zram-generator.conf this module did not write may be replaced or removed only when zram0 is all it
    configures (Debian's package ships one with an empty [zram0]: zram at half the RAM, at most 4 GiB)."""
    others = [name for name in config_sections(content) if name != NAME]
    if content is not None and not is_ours(content) and others:
        raise ZramError('%s configures %s too, which this module does not manage; move those sections to a '
                        'file in %s.d/ or edit it by hand' % (path, ', '.join(others), path))


# ---- planning ------------------------------------------------------------------------------------

def pick_method(method, current):
    if method == 'auto':
        return 'generator' if current.generator else 'unit'
    return method


def device_matches(current, nbytes, algorithm, priority):
    device = current.device
    if not device.exists or device.swap is None or device.swap.priority != priority:
        return False
    # The generator computes zram-size in floating point MiB: allow it one page of difference.
    if abs(device.disksize - nbytes) > current.page_size:
        return False
    return algorithm is None or device.algorithm == algorithm


def _check_swapoff_fits(current):
    swap = current.device.swap
    if swap is not None and swap.used > current.mem_available:
        raise ZramError('%s holds %s of swapped-out pages, more than MemAvailable %s: swapping it off now could '
                        'wake the OOM killer. Free memory first, or retry later'
                        % (DEVICE, format_size(swap.used), format_size(current.mem_available)))


def _in_use(device):
    return device.exists and (device.swap is not None or device.disksize > 0)


def _foreign(device, ours):
    """zram0 is set up, is not swap, and nothing of this module's is there: someone else's (a file system?)."""
    return device.exists and device.disksize > 0 and device.swap is None and not any(ours.values())


def plan(request, current, tools=None, paths=None):
    """Decide what to do; raise ZramError (naming the parameter) to refuse. tools: render_unit's tools;
    paths: {'config': path} for messages."""
    paths = paths or {'config': 'zram-generator.conf'}
    files = current.files
    ours = dict((key, is_ours(content)) for key, content in files.items())
    if request.state == 'absent':
        _check_foreign_config(files.get('config'), paths['config'])
        after = dict((key, None) for key in files)
        if files.get('config') is not None and not ours['config'] and NAME not in config_sections(files['config']):
            after['config'] = files['config']  # configures no zram0: not ours to remove
        teardown = _in_use(current.device) and not _foreign(current.device, ours)
        if teardown:
            _check_swapoff_fits(current)
        unload = current.device.exists and not _foreign(current.device, ours)
        write = sorted(key for key in files if files[key] != after[key])
        return Plan(None, after, write, False, current.enabled, teardown, False, unload,
                    0, None, None, False, bool(write or current.enabled or teardown or unload))
    method = pick_method(request.method, current)
    if method == 'generator' and not current.generator:
        raise ZramError('method: generator needs systemd-zram-generator (its zram-generator in '
                        '/usr/lib/systemd/system-generators), which is not installed; install it, or use method=unit')
    if _foreign(current.device, ours):
        raise ZramError('%s is set up (disksize %d) but is not swap, and not by this module: a file system? This '
                        'module manages %s as swap only; reset it first (zramctl --reset %s)'
                        % (DEVICE, current.device.disksize, NAME, DEVICE))
    if request.algorithm is not None:
        check_algorithm(request.algorithm, current.device.algorithms)
    nbytes = size_bytes(request.size, current.mem_total, current.page_size, whole_mib=method == 'generator')
    if method == 'generator' and nbytes == 0:
        raise ZramError('size: %s is less than 1 MiB, and systemd-zram-generator sets whole MiB; give at least 1M, '
                        'or use method=unit' % request.size.text)
    check_size(request.size, nbytes, current.mem_total, current.page_size)
    after = {'config': None, 'dropin': None, 'unit': None}
    if method == 'generator':
        _check_foreign_config(files.get('config'), paths['config'])
        after['config'] = render_generator_config(request.size, request.algorithm, request.priority)
        after['dropin'] = render_oomd_dropin()
    else:
        if files.get('config') is not None and not ours['config'] and NAME in config_sections(files['config']):
            raise ZramError('method: unit, but %s (not written by this module) has systemd-zram-generator set up '
                            '%s at boot too; remove it, or use method=generator' % (paths['config'], NAME))
        if files.get('config') is not None and not ours['config']:
            after['config'] = files['config']
        after['unit'] = render_unit(tools or {}, nbytes, request.algorithm, request.priority)
    write = sorted(key for key in after if files.get(key) != after[key]
                   or (after[key] is not None and key in current.misowned))
    # the other method's setup was there: the device is made again by this one, so that its service owns it
    switched = any(files.get(key) is not None and ours[key] and after[key] is None for key in files)
    matches = device_matches(current, nbytes, request.algorithm, request.priority)
    setup = switched or not matches
    teardown = setup and _in_use(current.device)
    if teardown:
        _check_swapoff_fits(current)
    enable = method == 'unit' and not current.enabled
    disable = method == 'generator' and current.enabled
    algorithm = request.algorithm or (current.device.algorithm if not setup else None)
    return Plan(method, after, write, enable, disable, teardown, setup, False, nbytes, algorithm,
                request.priority, True, bool(write or enable or disable or setup))


def describe_device(size, algorithm, priority, active):
    """The device as diff mode shows it."""
    if not active and not size:
        return ''
    return 'size: %d\nalgorithm: %s\npriority: %s\nactive: %s\n' % (
        size, algorithm or '(kernel default)', priority, 'true' if active else 'false')
