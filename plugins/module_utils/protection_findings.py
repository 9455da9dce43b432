# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic for lowmemorykiller_info: how each service that lowmem.hardening.oom_protect protects stands against
each memory killer on the host, and the findings about it (the sshd trap among them). No I/O.

Processes are host.Process tuples (pid, ppid, comm, oom_score_adj, tty, unit), as host.read_processes gives them.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

from ansible_collections.lowmem.hardening.plugins.module_utils import oom_protect as protect

# What a killer does with a unit, most protected first: never chosen while anything else can be; chosen late;
# like any other process; chosen first. A unit is as protected as its most exposed process.
EFFECTS = ('protect', 'avoid', 'none', 'prefer')
OOM_SCORE_ADJ_MIN = -1000  # the OOM killer never kills a process at this value, nor memory cgroups' OOMs
OOMD_EFFECTS = {'omit': 'protect', 'avoid': 'avoid'}
EARLYOOM_EFFECTS = {'--avoid': 'avoid', '--prefer': 'prefer'}
# The killers oom_protect writes for, in the order they are reported; the kernel's OOM killer is always there.
KILLERS = ('oom-killer', 'lowmemorykiller', 'systemd-oomd', 'earlyoom')
# Interactive shells: with a controlling terminal, one is a login session (or run from one).
SHELLS = frozenset(['ash', 'bash', 'csh', 'dash', 'fish', 'ksh', 'mksh', 'sh', 'tcsh', 'zsh'])
# OpenSSH 9.8 and later run each connection as sshd-session; earlier ones as a child sshd.
SSHD_NAMES = frozenset(['sshd', 'sshd-session'])
_SESSION_SCOPE = re.compile(r'^session-[^.]+\.scope$')  # logind's scope of one login session
SHOWN_PER_PLACE = 3  # processes named per unit or session in a message


def _finding(severity, code, message):
    return {'severity': severity, 'code': code, 'message': message}


def present_killers(lmk_present, killers):
    """The killers of KILLERS on the host, from the driver's presence and the `killers` result (installed or
    running)."""
    names = set(['oom-killer'] + (['lowmemorykiller'] if lmk_present else []) + [k['name'] for k in killers or []])
    return [name for name in KILLERS if name in names]


# ---------------------------------------------------------------------------
# Each unit against each killer

def adj_effect(adj):
    """What oom_score_adj does under the kernel's OOM killer."""
    if adj <= OOM_SCORE_ADJ_MIN:
        return 'protect'
    return 'avoid' if adj < 0 else 'none' if adj == 0 else 'prefer'


def _weakest(entries):
    return max(entries, key=lambda entry: EFFECTS.index(entry['effect']))


def oom_killer_entry(processes):
    """{effect, value}: value is the highest oom_score_adj of the unit's processes (null when none runs)."""
    if not processes:
        return {'effect': None, 'value': None}
    adj = max(p.oom_score_adj for p in processes)
    return {'effect': adj_effect(adj), 'value': adj}


def lmk_entry(processes, table):
    """{effect, value, threshold}: the row that first makes the unit's most exposed process a candidate (the
    highest minfree whose adj is at most its oom_score_adj), or null when no row reaches it."""
    entry = oom_killer_entry(processes)
    entry['threshold'] = None
    if entry['value'] is None:
        return entry
    rows = [row for row in table if row['adj'] <= entry['value']]
    if not rows:
        entry['effect'] = 'protect'
        return entry
    entry['threshold'] = max(rows, key=lambda row: row['minfree_pages'])
    if entry['effect'] == 'protect':
        entry['effect'] = 'avoid'  # -1000 is only the last choice here: a row reaches it
    return entry


def oomd_entry(dropin_text):
    """{effect, value}: ManagedOOMPreference= as the drop-in sets it (it applies to the unit's whole cgroup)."""
    preference = protect.unit_setting([dropin_text], 'ManagedOOMPreference')
    return {'effect': OOMD_EFFECTS.get(preference, 'none'), 'value': preference}


def earlyoom_expressions(args):
    """{flag: expression} of --avoid and --prefer in earlyoom's arguments; the last one given counts."""
    found = {}
    for index, arg in enumerate(args):
        for flag in EARLYOOM_EFFECTS:
            if arg == flag and index + 1 < len(args):
                found[flag] = args[index + 1]
            elif arg.startswith(flag + '='):
                found[flag] = arg[len(flag) + 1:]
    return found


def _earlyoom_process_entry(process, expressions):
    matched = []
    for flag, expression in sorted(expressions.items()):
        try:
            if re.search(expression, process.comm):
                matched.append(flag)
        except re.error:
            continue  # earlyoom refuses to start with it
    if len(matched) != 1:  # none, or both: +300 and -300 cancel out
        return {'effect': 'none', 'value': None}
    return {'effect': EARLYOOM_EFFECTS[matched[0]], 'value': '%s %s' % (matched[0], expressions[matched[0]])}


def earlyoom_entry(processes, expressions):
    """{effect, value}: the --avoid or --prefer expression that matches the names of the unit's processes
    (value '--avoid REGEX'), for its most exposed process; null when none runs."""
    if not processes:
        return {'effect': None, 'value': None}
    return _weakest([_earlyoom_process_entry(p, expressions) for p in processes])


def unit_protection(unit, dropin_text, processes, killers, table, earlyoom_args):
    """One `protection` entry: {unit, level, processes, killers: {name: entry}} for the killers present."""
    mine = [p for p in processes if p.unit == unit]
    if unit in protect.SELF_PROTECTING:  # OpenSSH gives connections and sessions back 0: the listener is protected
        by_pid = dict((p.pid, p) for p in processes)
        mine = [p for p in mine if not is_login_session(p, by_pid)
                and getattr(by_pid.get(p.ppid), 'comm', None) not in SSHD_NAMES]
    entries = {
        'oom-killer': oom_killer_entry(mine),
        'lowmemorykiller': lmk_entry(mine, table),
        'systemd-oomd': oomd_entry(dropin_text),
        'earlyoom': earlyoom_entry(mine, earlyoom_expressions(earlyoom_args)),
    }
    return {'unit': unit, 'level': protect.level_of_dropin(dropin_text),
            'processes': [{'pid': p.pid, 'name': p.comm, 'oom_score_adj': p.oom_score_adj} for p in mine],
            'killers': dict((name, entries[name]) for name in killers if name in entries)}


def protection(dropins, processes, killers, table, earlyoom_args):
    """The `protection` result, by unit: dropins {unit: text of its lowmem-protect.conf}; a file of that name
    without oom_protect's header is someone else's and left out."""
    return [unit_protection(unit, text, processes, killers, table, earlyoom_args)
            for unit, text in sorted(dropins.items()) if protect.level_of_dropin(text)]


# ---------------------------------------------------------------------------
# Login sessions (the sshd trap)

def _ancestors(process, by_pid):
    seen = set([process.pid])
    parent = by_pid.get(process.ppid)
    while parent is not None and parent.pid not in seen:
        seen.add(parent.pid)
        yield parent
        parent = by_pid.get(parent.ppid)


def _in_sshd_session(process, by_pid):
    """Whether an ancestor is an sshd session: an sshd (or sshd-session) started by another one, the listener."""
    for ancestor in _ancestors(process, by_pid):
        parent = by_pid.get(ancestor.ppid)
        if ancestor.comm in SSHD_NAMES and parent is not None and parent.comm in SSHD_NAMES:
            return True
    return False


def is_login_session(process, by_pid):
    """An interactive shell on a terminal, a process in a logind session scope, or one started from an sshd
    session (where pam_systemd does not put sessions in scopes, as in many containers)."""
    return bool((process.comm in SHELLS and process.tty) or _SESSION_SCOPE.match(process.unit or '')
                or _in_sshd_session(process, by_pid))


def starting_service(process, by_pid):
    """The service that started the process's session: the nearest service among it and its ancestors."""
    for candidate in [process] + list(_ancestors(process, by_pid)):
        if (candidate.unit or '').endswith('.service'):
            return candidate.unit
    return None


def unkillable_sessions(processes):
    """[(unit or session, starting service or None, [processes])] of login-session processes at oom_score_adj
    -1000, grouped by where they run, in pid order."""
    by_pid = dict((p.pid, p) for p in processes)
    groups = {}
    for process in sorted(processes):
        if process.oom_score_adj <= OOM_SCORE_ADJ_MIN and is_login_session(process, by_pid):
            where = process.unit or 'no unit'
            if where not in groups:
                groups[where] = (where, starting_service(process, by_pid), [])
            groups[where][2].append(process)
    return sorted(groups.values(), key=lambda group: group[2][0].pid)


# ---------------------------------------------------------------------------
# Findings

def findings(facts):
    """The findings about protection, from the facts of lmk_findings.assess plus `processes` and `protection`."""
    return (_sshd_trap(facts.get('processes') or []) + _lmk_reaches_protected(facts.get('protection') or [])
            + _oomd_without_swap(facts.get('killers') or [], facts.get('memory') or {}))


def _sshd_trap(processes):
    groups = unkillable_sessions(processes)
    if not groups:
        return []
    places = []
    for where, _service, members in groups:
        named = ', '.join('%s (pid %d)' % (p.comm, p.pid) for p in members[:SHOWN_PER_PLACE])
        more = len(members) - SHOWN_PER_PLACE
        places.append('%s%s in %s' % (named, ' and %d more' % more if more > 0 else '', where))
    services = sorted(set(service for _where, service, _members in groups if service))
    return [_finding('warning', 'sshd_trap', (
        'Login sessions run at oom_score_adj -1000: %s. They and everything started from them can never be killed '
        'by the OOM killer, so a runaway command there makes it kill services instead. OOMScoreAdjust=-1000 on the '
        'service that starts sessions (%s) leaks into them, as every child inherits its parent\'s oom_score_adj. '
        'Remove that setting: OpenSSH keeps its listener at -1000 by itself and gives sessions the value it '
        'started with. Sessions opened after the fix are killable again.'
        % ('; '.join(places), ', '.join(services) or 'usually ssh.service')))]


def _lmk_reaches_protected(entries):
    reached = []
    for entry in entries:
        lmk = entry['killers'].get('lowmemorykiller')
        if entry['level'] in ('protect', 'avoid') and lmk and lmk['threshold'] is not None:
            row = lmk['threshold']
            reached.append('%s (level %s, oom_score_adj %d) from the row minfree %d pages (%g MiB) for adj >= %d'
                           % (entry['unit'], entry['level'], lmk['value'], row['minfree_pages'], row['minfree_mib'],
                              row['adj']))
    if not reached:
        return []
    return [_finding('warning', 'lmk_reaches_protected', (
        'lowmemorykiller can still kill protected services: %s. Once free memory and the file cache both fall '
        'below that minfree, every process with oom_score_adj at or above the row\'s adj is a candidate. Keep the '
        'lowest adj of the table above the services\' values (lowmem.hardening.lowmemorykiller), or disable it.'
        % '; '.join(reached)))]


def _oomd_without_swap(killers, memory):
    oomd = [k for k in killers if k['name'] == 'systemd-oomd' and k.get('running')]
    # Both /proc/swaps and SwapTotal agree that there is none (either may be unreadable).
    if not oomd or memory.get('swaps') or memory.get('swap_total_bytes'):
        return []
    limits = oomd[0].get('thresholds') or {}
    return [_finding('info', 'oomd_no_swap', (
        'systemd-oomd is running (pid %s) but no swap is active: its SwapUsedLimit=%s never triggers, so it cannot '
        'act on swap pressure, only on the memory pressure of cgroups with ManagedOOMMemoryPressure=kill (above %s '
        'for %s). When memory runs out faster than that, the kernel OOM killer acts first.'
        % (', '.join(str(pid) for pid in oomd[0].get('pids') or []) or '?', limits.get('SwapUsedLimit', '90%'),
           limits.get('DefaultMemoryPressureLimit', '60%'), limits.get('DefaultMemoryPressureDurationSec', '30s'))))]
