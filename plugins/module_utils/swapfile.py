# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the swapfile module: parsing, the size rule, fstab editing, planning.

Nothing here touches the host; the module reads the host and applies the plan.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import re
from fractions import Fraction

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.lowmem.hardening.plugins.module_utils.host import TEMP_MARKER, format_size, unescape_octal

KIB = 1024
MIB = 1024 ** 2
GIB = 1024 ** 3

# size: auto
AUTO_DOUBLE_UP_TO = 2 * GIB
AUTO_MAXIMUM = 8 * GIB

# Free space that must remain on the filesystem after a new swapfile is written.
SPACE_MARGIN = 64 * MIB

# mkswap refuses fewer than 10 pages.
MIN_PAGES = 10

SWAP_MAGIC = b'SWAPSPACE2'


# The kernel cannot swap to files on these (no bmap/swap_activate, or
# read-only, network or memory backed).
NO_SWAP_FILESYSTEMS = frozenset([
    '9p', 'aufs', 'autofs', 'binfmt_misc', 'bpf', 'ceph', 'cgroup', 'cgroup2', 'cifs',
    'configfs', 'cramfs', 'debugfs', 'devpts', 'devtmpfs', 'ecryptfs', 'erofs',
    'glusterfs', 'hugetlbfs', 'iso9660', 'mqueue', 'nfs', 'nfs4', 'overlay',
    'overlayfs', 'proc', 'pstore', 'ramfs', 'securityfs', 'smb3', 'smbfs', 'squashfs',
    'sysfs', 'tmpfs', 'tracefs', 'udf', 'virtiofs', 'zfs',
])
# fuse, fuseblk, fuse.sshfs, ...
NO_SWAP_FILESYSTEM_PREFIXES = ('fuse',)

# Swap on fallocated (unwritten-extent) files works on these; elsewhere the
# file is filled with zeros.
FALLOCATE_FILESYSTEMS = frozenset(['ext4', 'xfs'])
# Copy-on-write: the file needs No_COW (chattr +C) while still empty.
NOCOW_FILESYSTEMS = frozenset(['btrfs'])

_SIZE_RE = re.compile(r'^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$', re.IGNORECASE)
_UNIT = {'k': KIB, 'm': MIB, 'g': GIB, 't': 1024 ** 4}


class SwapfileError(ValueError):
    """A request that must be refused; the message names the parameter."""


Mount = collections.namedtuple('Mount', ['mount_point', 'fstype', 'options'])
# kind: 'missing', 'file', or what else is there ('directory', 'symlink', 'block device', ...)
FileState = collections.namedtuple('FileState', ['kind', 'size', 'is_swap', 'mode', 'uid'])
Request = collections.namedtuple('Request', ['path', 'state', 'size', 'priority', 'fstab', 'active'])
Host = collections.namedtuple('Host', [
    'page_size',      # bytes
    'mem_total',      # bytes
    'mem_available',  # bytes
    'free',           # bytes a new file may use (stale temporaries counted as free)
    'directory_exists',
    'directory_writers',  # who besides root may create files in the directory: '' when nobody
    'mount',          # Mount of the swapfile's directory, or None if unknown
    'file',           # FileState
    'swap',           # host.SwapArea when path is active, else None
    'fstab',          # bytes of the fstab file (b'' when missing)
    'stale',          # names of leftover temporaries to remove
])
Plan = collections.namedtuple('Plan', [
    'remove_stale',   # names
    'write_size',     # int: write a new file of this size, or None
    'fix_mode',       # bool: chown root, chmod 0600 the existing file
    'swapoff',        # bool
    'swapon',         # bool
    'remove',         # bool: delete the file
    'fstab_after',    # bytes
    'fstab_line',     # text line managed in fstab, or None
    'created', 'resized', 'removed',
    'size',           # int bytes of the file afterwards (0 when absent)
    'active',         # bool afterwards
    'changed',
])


def parse_size(value):
    """Return the size in bytes (int), or 'auto'.

    Accepts an int, or a string of digits with an optional fraction and an
    optional binary unit K/M/G/T (optionally followed by iB or B), or 'auto'.
    """
    if isinstance(value, bool) or value is None:
        raise SwapfileError('size: %r is not a size; use bytes (4096), a string like 512M, 1G, 1.5GiB, or auto' % (value,))
    if isinstance(value, int):
        number = Fraction(value)
    elif isinstance(value, float):
        raise SwapfileError('size: %r is a float; write bytes as an integer or a string like 1.5G' % (value,))
    else:
        text = to_text(value, errors='surrogate_or_strict')
        if text.strip().lower() == 'auto':
            return 'auto'
        match = _SIZE_RE.match(text)
        if not match:
            raise SwapfileError('size: %r is not a size; use bytes (4096), a string like 512M, 1G, 1.5GiB, 1024K, or auto' % (text,))
        number = Fraction(match.group(1))
        if match.group(2):
            number *= _UNIT[match.group(2).lower()]
    if number.denominator != 1:
        raise SwapfileError('size: %r is not a whole number of bytes' % (value,))
    if number <= 0:
        raise SwapfileError('size: %r must be greater than zero' % (value,))
    return int(number)


def auto_size(mem_total, space_for_swap):
    """The size: auto rule, in bytes.

    2 x RAM up to 2 GiB of RAM, else RAM; at most 8 GiB; at most half of
    space_for_swap (free space plus the existing swapfile's size); rounded
    down to a whole MiB.
    """
    size = 2 * mem_total if mem_total <= AUTO_DOUBLE_UP_TO else mem_total
    size = min(size, AUTO_MAXIMUM, space_for_swap // 2)
    return max(size, 0) // MIB * MIB


def minimum_size(page_size):
    return MIN_PAGES * page_size


def has_swap_signature(header, page_size):
    """True when header (the file's first page) carries the swap v2 magic."""
    return header[page_size - len(SWAP_MAGIC):page_size] == SWAP_MAGIC


def parse_mountinfo(data):
    """/proc/self/mountinfo (bytes) -> [Mount] in table order (mount points as bytes)."""
    mounts = []
    for line in data.split(b'\n'):
        fields = line.split()
        if b'-' not in fields[6:]:
            continue
        separator = fields.index(b'-', 6)
        if len(fields) <= separator + 1:
            continue
        mounts.append(Mount(unescape_octal(fields[4]), to_text(fields[separator + 1]),
                            to_text(fields[5]).split(',')))
    return mounts


def mount_for(mounts, directory):
    """The mount that holds directory (an absolute, resolved bytes path): the
    longest mount point prefix; the last one listed wins when stacked."""
    best = None
    for mount in mounts:
        point = mount.mount_point.rstrip(b'/')
        if directory == point or directory.startswith(point + b'/') or not point:
            if best is None or len(point) >= len(best.mount_point.rstrip(b'/')):
                best = mount
    return best


def filesystem_refusal(mount):
    """Why swap cannot live on this mount, or None."""
    if mount is None:
        return None
    fstype = mount.fstype
    if fstype in NO_SWAP_FILESYSTEMS or fstype.startswith(NO_SWAP_FILESYSTEM_PREFIXES):
        return 'is on a %s filesystem (mounted at %s), which cannot hold swap' % (
            fstype, to_text(mount.mount_point, errors='surrogate_or_replace'))
    return None


def directory_writers(mode, uid):
    """Who besides root may create files in a directory with this mode and owner ('' when nobody)."""
    writers = []
    if uid != 0 and mode & 0o200:
        writers.append('its owner (uid %d)' % uid)
    if mode & 0o020:
        writers.append('its group')
    if mode & 0o002:
        writers.append('everyone')
    return ' and '.join(writers)


def fill_method(method, fstype):
    """-> (how, nocow): how is 'fallocate' or 'zeros'."""
    nocow = fstype in NOCOW_FILESYSTEMS
    if method == 'fallocate' or (method == 'auto' and fstype in FALLOCATE_FILESYSTEMS):
        return 'fallocate', nocow
    return 'zeros', nocow


def temp_prefix(basename):
    return '.%s%s' % (basename, TEMP_MARKER)


def priority_matches(wanted, active):
    """Does an active swap's priority satisfy the request?  -1 asks for the
    kernel's default (negative) priority; None does not care."""
    if wanted is None:
        return True
    if wanted < 0:
        return active < 0
    return active == wanted


# ---- fstab ------------------------------------------------------------------

def fstab_escape(path):
    """Path bytes -> fstab field (space, tab, newline, backslash as \\ooo)."""
    out = bytearray()
    for byte in bytearray(path):
        if byte in (0x20, 0x09, 0x0a, 0x5c):
            out.extend(b'\\%03o' % byte)
        else:
            out.append(byte)
    return bytes(out)


def fstab_line(path, priority):
    """The line we manage, as bytes without line ending."""
    options = b'sw' if priority is None else b'sw,pri=%d' % priority
    return fstab_escape(to_bytes(path, errors='surrogate_or_strict')) + b' none swap ' + options + b' 0 0'


def _split_lines(content):
    """bytes -> [(body, ending)], ending b'\\n', b'\\r\\n' or b'' (last line only)."""
    parts = content.split(b'\n')
    lines = []
    for number, part in enumerate(parts):
        if number < len(parts) - 1:
            if part.endswith(b'\r'):
                lines.append((part[:-1], b'\r\n'))
            else:
                lines.append((part, b'\n'))
        elif part:
            lines.append((part, b''))
    return lines


def _is_entry_for(body, path):
    fields = body.split()
    return bool(fields) and not fields[0].startswith(b'#') and unescape_octal(fields[0]) == path


def fstab_update(content, path, line):
    """Return fstab content with exactly one entry for path equal to line
    (bytes), or none when line is None.  Every other line stays byte for byte;
    an existing entry that differs only in whitespace is kept as it is.
    Appending then removing gives back the original bytes.
    """
    b_path = to_bytes(path, errors='surrogate_or_strict')
    lines = _split_lines(content)
    ours = [number for number, (body, ending) in enumerate(lines) if _is_entry_for(body, b_path)]
    if line is not None and not ours:
        endings = [ending for body, ending in lines if ending]
        newline = endings[0] if endings else b'\n'
        if lines and not lines[-1][1]:
            # the file has no final newline: keep it that way
            lines[-1] = (lines[-1][0], newline)
            lines.append((line, b''))
        else:
            lines.append((line, newline))
        return b''.join(body + ending for body, ending in lines)
    drop = set(ours)
    if line is not None:
        first = ours[0]
        drop.discard(first)
        if lines[first][0].split() != line.split():
            lines[first] = (line, lines[first][1])
    if not drop:
        return b''.join(body + ending for body, ending in lines)
    ended_without_newline = bool(lines) and not lines[-1][1]
    kept = [entry for number, entry in enumerate(lines) if number not in drop]
    if ended_without_newline and kept and kept[-1][1]:
        kept[-1] = (kept[-1][0], b'')
    return b''.join(body + ending for body, ending in kept)


# ---- planning ---------------------------------------------------------------

def _check_swapoff_fits(request, host):
    if host.swap.used > host.mem_available:
        raise SwapfileError(
            'path: %s is active with %s of swap in use, more than MemAvailable %s; '
            'swapping it off now could wake the OOM killer. Free memory first, or retry later'
            % (request.path, format_size(host.swap.used), format_size(host.mem_available)))


def _check_path(request, host):
    current = host.file
    if current.kind not in ('missing', 'file'):
        raise SwapfileError('path: %s is a %s; path must name a regular file or nothing yet' % (request.path, current.kind))
    if current.kind == 'file' and not current.is_swap:
        raise SwapfileError('path: %s exists but is not a swap file (no %s signature at offset %d); '
                            'move it away or choose another path'
                            % (request.path, to_text(SWAP_MAGIC), host.page_size - len(SWAP_MAGIC)))


def _check_directory(request, host):
    if not host.directory_exists:
        raise SwapfileError('path: the directory of %s does not exist' % request.path)
    if host.directory_writers:
        # Others could plant a file with a swap signature there, or swap one for a symlink.
        raise SwapfileError('path: the directory of %s is writable by %s; choose a directory only root can '
                            'write to, such as / or /var' % (request.path, host.directory_writers))
    refusal = filesystem_refusal(host.mount)
    if refusal:
        raise SwapfileError('path: %s %s; choose a path on a local disk filesystem (ext4, xfs, btrfs, ...)'
                            % (request.path, refusal))


def _size(request, host):
    """(size in bytes, how to describe it in a message); refuses a size below mkswap's minimum."""
    size, current = request.size, host.file
    described = format_size(size) if size != 'auto' else ''
    if size == 'auto':
        space = host.free + (current.size if current.kind == 'file' else 0)
        size = auto_size(host.mem_total, space)
        described = 'auto = %s (from MemTotal %s and %s of space for swap)' % (
            format_size(size), format_size(host.mem_total), format_size(space))
    minimum = minimum_size(host.page_size)
    if size < minimum:
        raise SwapfileError('size: %s is below the minimum mkswap accepts, %d pages = %s'
                            % (described, MIN_PAGES, format_size(minimum)))
    return size, described


def _check_writable(request, host, size, described):
    if host.mount is not None and 'ro' in host.mount.options:
        raise SwapfileError('path: %s is on a read-only mount (%s)'
                            % (request.path, to_text(host.mount.mount_point, errors='surrogate_or_replace')))
    needed = size + SPACE_MARGIN
    if host.free < needed:
        raise SwapfileError('size: %s does not fit: writing it needs %s free (size plus a %s margin%s), '
                            'the filesystem has %s'
                            % (described, format_size(needed), format_size(SPACE_MARGIN),
                               '; the old file stays until the new one is complete' if host.file.kind == 'file' else '',
                               format_size(host.free)))


def _plan_absent(request, host):
    active_now = host.swap is not None
    if active_now:
        _check_swapoff_fits(request, host)
    fstab_after = fstab_update(host.fstab, request.path, None)
    remove = host.file.kind == 'file'
    return Plan(
        remove_stale=list(host.stale), write_size=None, fix_mode=False,
        swapoff=active_now, swapon=False, remove=remove, fstab_after=fstab_after, fstab_line=None,
        created=False, resized=False, removed=remove, size=0, active=False,
        changed=bool(host.stale) or active_now or remove or fstab_after != host.fstab)


def plan(request, host):
    """Decide what to do; raise SwapfileError (naming the parameter) to refuse.

    request.size is bytes (int) or 'auto' when state=present.
    """
    _check_path(request, host)
    if request.state == 'absent':
        return _plan_absent(request, host)
    _check_directory(request, host)
    size, described = _size(request, host)
    current = host.file
    write = current.kind == 'missing' or current.size != size
    if write:
        _check_writable(request, host, size, described)
    active_now = host.swap is not None
    reprioritize = active_now and request.active and not priority_matches(request.priority, host.swap.priority)
    swapoff = active_now and (write or not request.active or reprioritize)
    if swapoff:
        _check_swapoff_fits(request, host)
    swapon = request.active and (not active_now or swapoff)
    fix_mode = current.kind == 'file' and not write and (current.mode != 0o600 or current.uid != 0)
    line = fstab_line(request.path, request.priority) if request.fstab else None
    fstab_after = fstab_update(host.fstab, request.path, line)
    return Plan(
        remove_stale=list(host.stale), write_size=size if write else None, fix_mode=fix_mode,
        swapoff=swapoff, swapon=swapon, remove=False, fstab_after=fstab_after,
        fstab_line=to_text(line, errors='surrogate_or_strict') if line is not None else None,
        created=current.kind == 'missing', resized=write and current.kind == 'file', removed=False,
        size=size, active=request.active,
        changed=bool(host.stale) or write or fix_mode or swapoff or swapon or fstab_after != host.fstab)
