# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""zram swap as lowmemorykiller_info reports it, and the findings about it. Pure functions: no I/O."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

# A full zram device holds its pages compressed in RAM; above this share of MemTotal it crowds out the
# memory it was meant to stretch, and the host thrashes instead of killing.
FULL_ZRAM_RAM_SHARE = 0.5
# The ratio assumed while nothing is stored yet: zstd and lzo-rle give 2 to 3 on ordinary memory.
ASSUMED_RATIO = 2.0

_ZRAM_DEVICE = re.compile(r'^/dev/(zram\d+)$')
# The kernel's line when a swap area is switched on (mm/swapfile.c), behind dmesg's [uptime].
_SWAP_ON = re.compile(br'\[\s*(\d+\.\d+)\] Adding \d+k swap on (\S+)\.')


def zram_name(filename):
    """zramN for a swap area on /dev/zramN, else None."""
    match = _ZRAM_DEVICE.match(filename)
    return match.group(1) if match else None


def zram_device(disksize_text, comp_algorithm_text, mm_stat_text):
    """What lowmemorykiller_info shows of a zram swap area, from its /sys/block/zramN files (None: unreadable)."""
    # Imported here: a module compiles its module_utils at every run, and most hosts have no zram.
    from ansible_collections.lowmem.hardening.plugins.module_utils import zram
    algorithm = zram.parse_comp_algorithm(comp_algorithm_text)[0] if comp_algorithm_text is not None else None
    stats = zram.parse_mm_stat(mm_stat_text) if mm_stat_text is not None else {}
    return {
        'disksize_bytes': zram.parse_disksize(disksize_text) if disksize_text is not None else None,
        'algorithm': algorithm,
        'orig_data_bytes': stats.get('orig_data_size'),
        'compr_data_bytes': stats.get('compr_data_size'),
        'mem_used_bytes': stats.get('mem_used_total'),
        'ratio': stats.get('ratio'),
    }


def swap_activations(dmesg):
    """[(uptime seconds, device)] of every "Adding NNNk swap on DEVICE." line of the kernel ring buffer."""
    return [(float(match.group(1)), match.group(2).decode('utf-8', 'replace')) for match in _SWAP_ON.finditer(dmesg)]


def _finding(severity, code, message):
    return {'severity': severity, 'code': code, 'message': message}


def _mib(nbytes):
    return '%d MiB' % round(nbytes / 1048576.0)


def oversized_zram(swaps, mem_total):
    """zram devices whose compressed pages, when full, would take more than FULL_ZRAM_RAM_SHARE of RAM."""
    found = []
    for area in swaps:
        device = area.get('zram')
        if device is None:
            continue  # not zram
        size = device.get('disksize_bytes') or area.get('size_bytes')
        if not size or not mem_total:
            continue
        ratio = device.get('ratio') or ASSUMED_RATIO
        full = size / ratio
        if full > FULL_ZRAM_RAM_SHARE * mem_total:
            found.append(_finding('warning', 'zram_oversized', (
                '%s is %s of zram swap on %s of RAM: full, at a compression ratio of %.1f%s, it would hold %s of '
                'RAM (%d%%), so the host would thrash, swapping in RAM, long before a memory killer acts. Size it '
                'at most ram / 2 (lowmem.hardening.zram size=ram / 2).'
                % (area['filename'], _mib(size), _mib(mem_total), ratio,
                   '' if device.get('ratio') else ' (assumed: nothing is stored yet)', _mib(full),
                   round(100.0 * full / mem_total)))))
    return found


def oomd_before_swap(killers, swaps, activations, oomd_started):
    """systemd-oomd started before any swap area now active was switched on: it found no swap then.

    activations: swap_activations() of the ring buffer; oomd_started: the running systemd-oomd's start, in
    seconds of uptime (None: unknown). Known only when both are readable.
    """
    running = [k for k in killers if k.get('name') == 'systemd-oomd' and k.get('running')]
    if not running or oomd_started is None or not swaps:
        return []
    active = set(area['filename'] for area in swaps)
    times = [uptime for uptime, device in activations if device in active]
    if not times or min(times) <= oomd_started:
        return []
    return [_finding('warning', 'oomd_started_before_swap', (
        'systemd-oomd (pid %s) started %.1f s after boot, before any swap was on (the first, %s, at %.1f s): it '
        'reports "No swap" and acts on memory pressure only until it is restarted. Order the swap before it '
        '(lowmem.hardening.zram does, for zram) or restart systemd-oomd.'
        % (', '.join(str(pid) for pid in running[0].get('pids') or []) or '?', oomd_started,
           [device for uptime, device in activations if uptime == min(times)][0], min(times))))]
