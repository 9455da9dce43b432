# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What lowmemorykiller_info found, as node_exporter's textfile collector reads it (Prometheus text format 0.0.4).

Pure functions: no I/O. Every series a host can have is always written (0 when nothing is there), so that a
query or an alert never has to tell "absent" from "zero".
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.lowmem.hardening.plugins.module_utils import killlog

# Every killer the kill records name (killlog's KILL_FIELDS "killer"), so that each has a series.
KILLERS = ('lowmemorykiller', 'oom-killer', 'cgroup-oom', 'earlyoom', 'systemd-oomd', 'lmkd', 'nohang')
DRIVER_STATES = ('absent', 'enabled', 'disabled')
SEVERITIES = ('warning', 'info')


def driver_state(facts):
    if not facts['present']:
        return 'absent'
    return 'disabled' if facts['disabled'] else 'enabled'


def _escape(value):
    return str(value).replace('\\', '\\\\').replace('\n', '\\n').replace('"', '\\"')


def _number(value):
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


class _Metrics(object):
    def __init__(self):
        self.lines = []

    def family(self, name, help_text, samples):
        """samples: [(labels dict or None, value)]; a family without samples is left out."""
        if not samples:
            return
        self.lines.append('# HELP %s %s' % (name, help_text))
        self.lines.append('# TYPE %s gauge' % name)
        for labels, value in samples:
            label_text = ','.join('%s="%s"' % (key, _escape(labels[key])) for key in sorted(labels or {}))
            self.lines.append('%s%s %s' % (name, '{%s}' % label_text if label_text else '', _number(value)))


def top_threshold_ratio(facts):
    """The highest minfree as a fraction of MemTotal, or None (no driver, no table, unknown RAM)."""
    fractions = [row['minfree_percent'] for row in facts['thresholds'] if row.get('minfree_percent') is not None]
    return max(fractions) / 100.0 if fractions else None


def window(since):
    """(window_seconds, since_timestamp) of the `since` option: a duration (7d) gives its length, which stays
    the same from run to run, a date its epoch; (None, None) without since. ValueError as since_epoch."""
    if not since:
        return None, None
    at_zero = killlog.since_epoch(since, 0.0)
    if killlog.since_epoch(since, 1.0) != at_zero:  # a duration moves with "now"
        return int(round(-at_zero)), None
    return None, at_zero


def render(facts, kills_by_killer, window_seconds, since_timestamp=None):
    """The text of the .prom file.

    facts: lowmemorykiller_info's result (present, disabled, thresholds, memory, killers, findings).
    kills_by_killer: {killer: {'count': n, 'newest_timestamp': seconds or None}}.
    window_seconds: how far back the kills were counted (since as a duration), else None;
    since_timestamp: since as a date, else None. Neither: the whole logs.
    """
    metrics = _Metrics()
    state = driver_state(facts)
    metrics.family('lowmem_lmk_state', 'State of the lowmemorykiller driver: absent, enabled (can kill) or '
                   'disabled (no process can be selected); 1 for the current state.',
                   [({'state': name}, int(name == state)) for name in DRIVER_STATES])
    ratio = top_threshold_ratio(facts)
    metrics.family('lowmem_lmk_top_threshold_ratio', 'The highest lowmemorykiller minfree threshold as a '
                   'fraction of RAM (0 to 1).', [(None, ratio)] if ratio is not None else [])
    metrics.family('lowmem_lmk_threshold_bytes', 'Each row of the lowmemorykiller table: free memory below which '
                   'processes at or above adj are killed, in bytes.',
                   [({'adj': row['adj']}, row['minfree_bytes']) for row in facts['thresholds']])
    memory = facts['memory']
    for name, key, help_text in (
            ('lowmem_memory_total_bytes', 'mem_total_bytes', 'MemTotal of /proc/meminfo, in bytes.'),
            ('lowmem_swap_total_bytes', 'swap_total_bytes', 'SwapTotal of /proc/meminfo, in bytes.'),
            ('lowmem_swap_used_bytes', 'swap_used_bytes', 'SwapTotal minus SwapFree, in bytes.')):
        metrics.family(name, help_text, [(None, memory[key])] if memory.get(key) is not None else [])
    killers = sorted(set(KILLERS) | set(kills_by_killer))
    metrics.family('lowmem_kills', 'Memory-pressure kills found in the logs within the window '
                   '(lowmem_kills_window_seconds), by killer.',
                   [({'killer': name}, kills_by_killer.get(name, {}).get('count', 0)) for name in killers])
    metrics.family('lowmem_kills_window_seconds', 'How far back lowmem_kills counts, in seconds; 0 when it counts '
                   'from a date (lowmem_kills_since_timestamp_seconds) or the whole logs.',
                   [(None, int(window_seconds or 0))])
    metrics.family('lowmem_kills_since_timestamp_seconds', 'The date lowmem_kills counts from, in Unix seconds, '
                   'when one was given.', [(None, since_timestamp)] if since_timestamp is not None else [])
    metrics.family('lowmem_last_kill_timestamp_seconds', 'Time of the newest kill in the window, by killer, in Unix '
                   'seconds; left out when no kill or no date is known.',
                   [({'killer': name}, round(entry['newest_timestamp'], 3))
                    for name, entry in sorted(kills_by_killer.items()) if entry.get('newest_timestamp') is not None])
    metrics.family('lowmem_killer_running', 'Whether each userspace memory killer runs (1) or not (0).',
                   [({'killer': killer['name']}, killer['running']) for killer in facts['killers']])
    counts = dict((severity, 0) for severity in SEVERITIES)
    for finding in facts['findings']:
        counts[finding['severity']] = counts.get(finding['severity'], 0) + 1
    metrics.family('lowmem_findings', 'Findings of lowmemorykiller_info, by severity.',
                   [({'severity': severity}, count) for severity, count in sorted(counts.items())])
    return '\n'.join(metrics.lines) + '\n'
