# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic for lowmemorykiller_info: memory, boot-time values, other killers, findings. No I/O.

The module reads files and commands and hands their text here; everything here is unit-tested.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import re
import shlex

from ansible_collections.lowmem.hardening.plugins.module_utils import lowmemorykiller as lmk
from ansible_collections.lowmem.hardening.plugins.module_utils import protection_findings as protection
from ansible_collections.lowmem.hardening.plugins.module_utils import swap_findings

MIB = 1024 * 1024
GIB = 1024 * MIB
# Killing before 10% of RAM is free is what took down the 512 MB servers in 2014 (12.5%).
HIGH_THRESHOLD_PERCENT = 10.0
# Below this much RAM a host without swap is a risk; above it, often a choice (e.g. Kubernetes nodes).
SMALL_RAM_BYTES = 4 * GIB
# The mainline driver's defaults; adj also as an autodetecting Android kernel shows 0,1,6,12.
DEFAULT_MINFREE = [1536, 2048, 4096, 16384]
DEFAULT_ADJ = ([0, 1, 6, 12], [0, 58, 352, 705])

KILLER_NAMES = ('lmkd', 'earlyoom', 'systemd-oomd', 'nohang')
SEVERITIES = ('warning', 'info')


# ---------------------------------------------------------------------------
# Memory

def memory_summary(meminfo, swaps):
    """The `memory` result from host.parse_meminfo's {key: bytes} and a list of swap areas (either may be empty)."""
    swap_total = meminfo.get('SwapTotal')
    swap_free = meminfo.get('SwapFree')
    return {
        'mem_total_bytes': meminfo.get('MemTotal'),
        'mem_available_bytes': meminfo.get('MemAvailable'),
        'swap_total_bytes': swap_total,
        'swap_used_bytes': swap_total - swap_free if swap_total is not None and swap_free is not None else None,
        'swaps': swaps,
    }


def thresholds(params, page_size, mem_total_bytes):
    """The effective table with MiB added: [{minfree_pages, minfree_bytes, minfree_mib, minfree_percent, adj}]."""
    table = lmk.effective_table(params, page_size, mem_total_bytes)
    for row in table:
        row['minfree_mib'] = round(row['minfree_bytes'] / float(MIB), 2)
    return table


# ---------------------------------------------------------------------------
# Boot-time values

_TMPFILES_LINE = re.compile(r'^w\+?\s+(?P<file>/\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(?P<value>\S.*?)\s*$')
_SYSFS_LINE = re.compile(r'^(?P<file>[^\s=#]+)\s*=\s*(?P<value>\S.*?)\s*$')
_ECHO_LINE = re.compile(r'\becho\s+(?:-n\s+)?(?P<quote>["\']?)(?P<value>[^"\'>]*?)(?P=quote)\s*>\s*(?P<file>/\S+)')
_CMDLINE_PARAM = re.compile(r'(?:^|\s)lowmemorykiller\.(?P<name>\w+)=(?P<value>\S+)')


def boot_values(text, path):
    """{name: value} that a boot-time file writes to the parameters directory `path`.

    Understands the lines render_persistence writes (and hand-written ones of the same kinds):
    systemd-tmpfiles ``w PATH/NAME - - - - VALUE``, sysfsutils ``module/.../NAME = VALUE`` (relative to
    /sys) and shell ``echo VALUE > PATH/NAME`` (OpenRC local.d, cron @reboot, rc.local).
    """
    path = path.rstrip('/')
    texts = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            continue
        for pattern in (_TMPFILES_LINE, _ECHO_LINE, _SYSFS_LINE):
            match = pattern.search(stripped)
            if match:
                target = match.group('file')
                if pattern is _SYSFS_LINE:
                    target = '/sys/' + target.lstrip('/')
                if os.path.dirname(target) == path:
                    texts[os.path.basename(target)] = match.group('value')
                break
    return parse_param_texts(texts)


def cmdline_values(text):
    """{name: value} set by ``lowmemorykiller.NAME=VALUE`` on the kernel command line."""
    return parse_param_texts(dict((m.group('name'), m.group('value')) for m in _CMDLINE_PARAM.finditer(text)))


def parse_param_texts(texts):
    """{name: text} -> {name: value}; a value the kernel shows in no known form is kept as text."""
    values = {}
    for name, text in texts.items():
        try:
            values.update(lmk.parse_params({name: text}))
        except ValueError:
            values[name] = text.strip()
    return values


def boot_matches(values, runtime):
    """Whether the kernel shows what a boot-time mechanism writes (Android's adj conversion allowed)."""
    for name, value in values.items():
        if name not in runtime or runtime[name] not in lmk.expected_readbacks(name, value):
            return False
    return True


def persist_summary(mechanisms, runtime):
    """The `persist` result: each mechanism with its values and whether they match the runtime ones.

    mechanisms: [{method, file, values, managed}] as found on the host.
    """
    found = []
    for mechanism in mechanisms:
        entry = dict(mechanism)
        entry['matches'] = boot_matches(mechanism['values'], runtime)
        found.append(entry)
    return {'mechanisms': found, 'matches': all(m['matches'] for m in found) if found else None}


# ---------------------------------------------------------------------------
# The threshold behind a lowmemorykiller kill

# 4.9 and later print the row that selected the victim; its limit is minfree * PAGE_SIZE / 1024.
_RECORD_LIMIT = re.compile(r'\bcache \d+kB is below limit (?P<kb>\d+)kB for oom_score_adj (?P<adj>-?\d+)')


def original_params(state_text, path):
    """The values lowmem.hardening.lowmemorykiller saved for `path` before it first changed them, or None.

    state_text: its state file, ``{"paths": {PATH: {"original": {name: text as read}, ...}}}``.
    """
    try:
        state = json.loads(state_text)
    except ValueError:
        return None
    paths = state.get('paths') if isinstance(state, dict) else None
    entry = paths.get(path.rstrip('/') or '/') if isinstance(paths, dict) else None
    texts = entry.get('original') if isinstance(entry, dict) else None
    if not isinstance(texts, dict) or not all(isinstance(text, str) for text in texts.values()):
        return None
    return parse_param_texts(texts)


def kill_threshold(kill, current, original, page_size, mem_total_bytes):
    """The threshold below which a lowmemorykiller kill became possible, or None.

    A `thresholds` row ({minfree_pages, minfree_bytes, minfree_mib, minfree_percent, adj}) plus `table`,
    a key of TABLE_NAMES. A record that prints its limit (4.9 and later) names the row that selected the
    victim. Otherwise the driver, at the first row (ascending) whose minfree both free memory and file
    cache are below, makes every process with oom_score_adj >= that row's adj a candidate: a process
    with adj A is one below the highest minfree whose adj is <= A. The table is `original` (the values
    from before this collection changed them, in force when the logged kills were made) when saved,
    else `current`; the row's fields are None when no row of that table selects A.

    current: the parameters the kernel shows now, or None without the driver; original: original_params'.
    None for other killers' kills, and when neither the record nor a table tells.
    """
    if kill.get('killer') != 'lowmemorykiller':
        return None
    limit = _RECORD_LIMIT.search('\n'.join(kill.get('lines') or []))
    if limit:
        pages = int(limit.group('kb')) * 1024 // page_size
        row = thresholds({'minfree': [pages], 'adj': [int(limit.group('adj'))]}, page_size, mem_total_bytes)[0]
        return dict(row, table='record')
    if kill.get('adj') is None:
        return None
    for table, params in (('original', original), ('current', current)):
        if not params or not isinstance(params.get('adj'), list) or not isinstance(params.get('minfree'), list):
            continue
        rows = [row for row in thresholds(params, page_size, mem_total_bytes) if row['adj'] <= kill['adj']]
        if not rows:
            return {'minfree_pages': None, 'minfree_bytes': None, 'minfree_mib': None, 'minfree_percent': None,
                    'adj': None, 'table': table}
        return dict(max(rows, key=lambda row: row['minfree_pages']), table=table)
    return None


# ---------------------------------------------------------------------------
# Other killers

def earlyoom_thresholds(argv):
    """What earlyoom acts on, from its arguments (the running process's or EARLYOOM_ARGS).

    -m/-s PERCENT[,KILL_PERCENT] (default 10, SIGKILL at half), -M/-S SIZE[,KILL_SIZE] in KiB.
    """
    result = {'mem_term_percent': 10.0, 'mem_kill_percent': 5.0, 'swap_term_percent': 10.0, 'swap_kill_percent': 5.0}
    options = {'-m': ('mem', 'percent'), '-s': ('swap', 'percent'), '-M': ('mem', 'kib'), '-S': ('swap', 'kib')}
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        key, value = arg[:2], arg[2:]
        if key in options:
            if not value and index + 1 < len(args):
                index += 1
                value = args[index]
            kind, unit = options[key]
            numbers = [v for v in value.split(',') if v]
            try:
                term = float(numbers[0])
                kill = float(numbers[1]) if len(numbers) > 1 else term / 2
            except (IndexError, ValueError):
                index += 1
                continue
            result['%s_term_%s' % (kind, unit)] = term
            result['%s_kill_%s' % (kind, unit)] = kill
        index += 1
    return result


def earlyoom_args_from_default(text):
    """The arguments in /etc/default/earlyoom (EARLYOOM_ARGS="...")."""
    for line in text.splitlines():
        match = re.match(r'^\s*EARLYOOM_ARGS\s*=\s*(.*)$', line)
        if match:
            try:
                words = shlex.split(match.group(1))
            except ValueError:
                return []
            return shlex.split(words[0]) if len(words) == 1 else words
    return []


OOMD_DEFAULTS = {'SwapUsedLimit': '90%', 'DefaultMemoryPressureLimit': '60%',
                 'DefaultMemoryPressureDurationSec': '30s'}


def oomd_thresholds(texts):
    """systemd-oomd's limits from oomd.conf and its drop-ins, in the order systemd reads them."""
    result = dict(OOMD_DEFAULTS)
    for text in texts:
        section = None
        for line in text.splitlines():
            line = line.strip()
            if not line or line[0] in '#;':
                continue
            if line.startswith('['):
                section = line.strip('[]').strip()
                continue
            if section == 'OOM' and '=' in line:
                key, value = line.split('=', 1)
                if key.strip() in OOMD_DEFAULTS:
                    result[key.strip()] = value.strip() or OOMD_DEFAULTS[key.strip()]
    return result


def nohang_thresholds(text):
    """nohang's memory thresholds (``*threshold*`` keys, older ``*_min_sigterm``/``*_min_sigkill``)."""
    result = {}
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        match = re.match(r'^(?P<key>[a-z_0-9]+)\s*=\s*(?P<value>\S.*?)$', line)
        if match and re.search(r'threshold|_min_sig|_max_sig', match.group('key')):
            result[match.group('key')] = match.group('value')
    return result


# ---------------------------------------------------------------------------
# Findings

def _finding(severity, code, message):
    return {'severity': severity, 'code': code, 'message': message}


def _mib(nbytes):
    """A size for messages: MiB below 10 GiB (thresholds are MiB-sized), GiB above."""
    if nbytes >= 10 * GIB:
        return '%.1f GiB' % (nbytes / float(GIB))
    value = nbytes / float(MIB)
    return '%d MiB' % value if value == int(value) else '%.1f MiB' % value


def _percent(value):
    return ('%.1f' % value).rstrip('0').rstrip('.') + '%'


def assess(facts):
    """Findings [{severity, code, message}] for a host, warnings first.

    facts: {present, path, params, thresholds, disabled, memory, killers, persist, kills, page_size,
    init_oom_score_adj, original_params (original_params'), unreadable, protection, processes (host.Process
    tuples), swap_activations and oomd_started (swap_findings.oomd_before_swap)}, as the module returns them
    (missing keys mean unknown).
    """
    findings = []
    memory = facts.get('memory') or {}
    mem_total = memory.get('mem_total_bytes')
    swap_total = memory.get('swap_total_bytes')
    swap_used = memory.get('swap_used_bytes')
    running = [k for k in facts.get('killers') or [] if k.get('running')]
    present = facts.get('present')
    enabled = bool(present and not facts.get('disabled'))

    if present:
        findings.extend(_lmk_findings(facts, enabled, mem_total, swap_total, swap_used))
    else:
        findings.append(_finding('info', 'lmk_absent', (
            'This kernel has no lowmemorykiller (%s does not exist); processes killed for memory were killed '
            'by the kernel OOM killer or a userspace killer.' % facts.get('path', lmk.DEFAULT_PATH))))

    if swap_total == 0:
        small = mem_total is not None and mem_total < SMALL_RAM_BYTES
        findings.append(_finding('warning' if small else 'info', 'no_swap', (
            'No swap is active%s: when memory runs out there is nothing to page out to, so a killer acts '
            'at once.%s' % (' on a host with %s of RAM' % _mib(mem_total) if mem_total else '',
                            ' Add swap (lowmem.hardening.swapfile).' if small else ''))))

    for killer in running:
        findings.append(_finding('info', '%s_running' % killer['name'].replace('-', '_'), _killer_message(killer)))
    active = (['lowmemorykiller'] if enabled else []) + [k['name'] for k in running]
    if len(active) > 1:
        findings.append(_finding('warning', 'several_killers', (
            'Several memory killers are active (%s): each acts on its own thresholds, and whichever is '
            'reached first kills.' % ', '.join(active))))

    findings.extend(protection.findings(facts))
    findings.extend(swap_findings.oversized_zram(memory.get('swaps') or [], mem_total))
    findings.extend(swap_findings.oomd_before_swap(facts.get('killers') or [], memory.get('swaps') or [],
                                                   facts.get('swap_activations') or [], facts.get('oomd_started')))
    findings.extend(_kill_findings(facts))
    unreadable = facts.get('unreadable') or []
    if unreadable:
        findings.append(_finding('info', 'unreadable', (
            'Some sources could not be read, so kills or settings may be missing: %s.%s' % (
                '; '.join('%s (%s)' % (u['source'], u['error']) for u in unreadable),
                ' Run with become: true to read them.' if any('ermission' in u['error'] or 'ermitted' in u['error']
                                                              for u in unreadable) else ''))))
    return sorted(findings, key=lambda f: SEVERITIES.index(f['severity']))


def _lmk_findings(facts, enabled, mem_total, swap_total, swap_used):
    findings = []
    table = facts.get('thresholds') or []
    params = facts.get('params') or {}
    if not enabled:
        findings.append(_finding('info', 'lmk_disabled', (
            'lowmemorykiller is present but cannot select any process (every adj it uses is above 1000, or '
            'the table is empty): adj=%s, minfree=%s.' % (lmk.format_value(params.get('adj', [])),
                                                          lmk.format_value(params.get('minfree', []))))))
    top = max(table, key=lambda row: row['minfree_pages']) if table else None
    if enabled and top and top['minfree_percent'] is not None and top['minfree_percent'] > HIGH_THRESHOLD_PERCENT:
        where = ('lowmemorykiller starts killing when free memory and the file cache both fall below %s '
                 '(%d pages, %s of %s RAM, processes with oom_score_adj %d and above)'
                 % (_mib(top['minfree_bytes']), top['minfree_pages'], _percent(top['minfree_percent']),
                    _mib(mem_total), top['adj']))
        if swap_total and swap_used is not None and swap_used * 100 < swap_total:
            findings.append(_finding('warning', 'lmk_kills_before_swap', (
                '%s, while %s of swap is unused: processes are killed long before swap is touched (the 2014 '
                'case of Ubuntu 13.04 servers). Disable it with lowmem.hardening.lowmemorykiller state=disabled, '
                'or lower minfree.' % (where, _mib(swap_total)))))
        else:
            findings.append(_finding('warning', 'lmk_threshold_high', (
                '%s: above %s of RAM, processes are killed while much memory is still in use as cache.'
                % (where, _percent(HIGH_THRESHOLD_PERCENT)))))
    if enabled and table:
        lowest = min(table, key=lambda row: row['adj'])
        init_adj = facts.get('init_oom_score_adj')
        init_adj = 0 if init_adj is None else init_adj
        if lowest['adj'] <= init_adj:
            findings.append(_finding('warning', 'lmk_adj_includes_system', (
                'adj starts at %d: below %s free (minfree %d pages) every process with oom_score_adj %d or '
                'more can be killed, including init (PID 1, oom_score_adj %d) and system daemons. Unlike the '
                'kernel OOM killer, lowmemorykiller does not spare init, and killing it panics the kernel.'
                % (lowest['adj'], _mib(lowest['minfree_bytes']), lowest['minfree_pages'], lowest['adj'], init_adj))))
    findings.extend(_persist_findings(facts.get('persist') or {}, params))
    for killer in facts.get('killers') or []:
        if killer['name'] == 'lmkd' and (killer.get('running') or killer.get('installed')):
            findings.append(_finding('warning', 'lmkd_overwrites', (
                "Android's lmkd is %s: it writes minfree and adj itself (from its own properties) whenever it "
                "starts, overwriting any values set here." % ('running' if killer.get('running') else 'installed'))))
    return findings


def _persist_findings(persist, params):
    findings = []
    mechanisms = persist.get('mechanisms') or []
    for mechanism in mechanisms:
        if mechanism.get('matches') is False:
            differing = ['%s=%s (the kernel shows %s)' % (name, lmk.format_value(value),
                                                          lmk.format_value(params[name]) if name in params else 'none')
                         for name, value in sorted(mechanism['values'].items())
                         if params.get(name) not in lmk.expected_readbacks(name, value)]
            findings.append(_finding('warning', 'persist_out_of_sync', (
                '%s (%s) sets %s at boot: the next boot changes the thresholds.'
                % (mechanism['file'], mechanism['method'], ', '.join(differing)))))
    if not mechanisms and not _defaults(params):
        findings.append(_finding('warning', 'persist_missing', (
            'The runtime values (adj=%s, minfree=%s) differ from the kernel defaults and nothing sets them at '
            'boot: they are lost at the next reboot. lowmem.hardening.lowmemorykiller persists them.'
            % (lmk.format_value(params.get('adj', [])), lmk.format_value(params.get('minfree', []))))))
    return findings


def _defaults(params):
    return params.get('minfree') == DEFAULT_MINFREE and params.get('adj') in DEFAULT_ADJ


def _killer_message(killer):
    limits = killer.get('thresholds') or {}
    name = killer['name']
    if name == 'earlyoom':
        keys = ('mem_term_percent', 'swap_term_percent', 'mem_kill_percent', 'swap_kill_percent')
        what = ('it sends SIGTERM when MemAvailable <= %s and SwapFree <= %s, SIGKILL at %s and %s'
                % tuple(_percent(limits[key]) for key in keys))
        if 'mem_term_kib' in limits:
            what += ' (or when MemAvailable <= %d KiB)' % limits['mem_term_kib']
    elif name == 'systemd-oomd':
        what = ('it kills the cgroups of units with ManagedOOM* settings when swap use exceeds %s, or memory '
                'pressure exceeds %s for %s' % (limits.get('SwapUsedLimit'), limits.get('DefaultMemoryPressureLimit'),
                                                limits.get('DefaultMemoryPressureDurationSec')))
    elif limits:
        what = 'thresholds %s' % ', '.join('%s=%s' % item for item in sorted(limits.items()))
    else:
        what = 'its thresholds could not be read'
    return '%s is running (pid %s): %s.' % (name, ', '.join(str(p) for p in killer.get('pids') or []) or '?', what)


def _kill_findings(facts):
    kills = facts.get('kills') or []
    if not kills:
        return []
    counts = {}
    for kill in kills:
        counts[kill['killer']] = counts.get(kill['killer'], 0) + 1
    newest = kills[-1]
    victim = newest['comm'] or newest['cgroup'] or 'a process'
    threshold = None
    if facts.get('page_size'):
        threshold = kill_threshold(newest, facts.get('params') if facts.get('present') else None,
                                   facts.get('original_params'), facts['page_size'],
                                   (facts.get('memory') or {}).get('mem_total_bytes'))
    return [_finding('warning', 'kills_found', (
        '%d memory-pressure kill%s found in the logs (%s); the newest: %s killed %s%s at %s%s.'
        % (len(kills), '' if len(kills) == 1 else 's',
           ', '.join('%s %d' % item for item in sorted(counts.items())),
           newest['killer'], victim, ' (pid %d)' % newest['pid'] if newest['pid'] is not None else '',
           _when(newest['time']), _threshold_clause(threshold, newest.get('adj')))))]


# kill_threshold's `table` (where the threshold was read), as messages name it.
TABLE_NAMES = {
    'record': 'as its record prints',
    'original': 'in the values from before lowmem.hardening changed them',
    'current': "in today's values",
}


def _threshold_clause(threshold, adj):
    """', allowed by ...' for kill_threshold's answer; '' when it has none."""
    if threshold is None:
        return ''
    where = TABLE_NAMES[threshold['table']]
    if threshold['minfree_pages'] is None:
        return ', but no threshold %s selects adj %d' % (where, adj)
    share = threshold['minfree_percent']
    return ', allowed by the threshold minfree %d page%s (%s%s) for adj >= %d, %s' % (
        threshold['minfree_pages'], '' if threshold['minfree_pages'] == 1 else 's', format_size(threshold['minfree_bytes']),
        '' if share is None else ', ' + ram_share(share), threshold['adj'], where)


def format_size(nbytes):
    """A size for messages: KiB below 1 MiB, else as _mib."""
    return _mib(nbytes) if nbytes >= MIB else ('%.1f' % (nbytes / 1024.0)).rstrip('0').rstrip('.') + ' KiB'


def ram_share(percent):
    """'1.2% of RAM'; the smallest thresholds as '<0.1% of RAM' (one page of 512 MiB is 0.000763%)."""
    return '%s of RAM' % ('<0.1%' if percent < 0.1 else _percent(percent))


def _when(printed):
    if not printed:
        return 'an unknown time'
    if re.match(r'^\d+\.\d+$', printed):
        return '%s s after boot' % printed  # the kernel's own stamp
    return printed
