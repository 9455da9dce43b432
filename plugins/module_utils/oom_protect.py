# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of service protection from memory killers: what each killer reads for each level. No I/O.

Levels: protect (never chosen while anything else can be), avoid (chosen late), prefer (chosen first).
- The kernel OOM killer and lowmemorykiller read oom_score_adj (systemd's OOMScoreAdjust=); under the OOM
  killer -1000 means never, under lowmemorykiller a value below the table's lowest adj is never a candidate.
- systemd-oomd ignores oom_score_adj; it kills whole cgroups and reads ManagedOOMPreference=avoid|omit.
- earlyoom takes one --avoid and one --prefer regular expression over process names.
The kernel gives every child its parent's oom_score_adj, so OOMScoreAdjust= on a unit that starts users'
sessions or jobs would shield them too (the sshd trap, seen on Debian 12: OOMScoreAdjust=-1000 for ssh.service
gives every login shell -1000). OpenSSH on Linux keeps its listener at -1000 itself and gives each session the
value it started with, so ssh is protected by writing no OOMScoreAdjust at all.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import re

LEVELS = ('protect', 'avoid', 'prefer')
SCORE_ADJUST = {'protect': -1000, 'avoid': -500, 'prefer': 500}
OOMD_PREFERENCE = {'protect': 'omit', 'avoid': 'avoid'}
EARLYOOM_FLAG = {'protect': '--avoid', 'avoid': '--avoid', 'prefer': '--prefer'}
# OpenSSH's units: the listener is at -1000 by its own doing (and sessions get its starting value back).
SELF_PROTECTING = frozenset(['ssh.service', 'sshd.service'])
# Units whose children are users' sessions or jobs: OOMScoreAdjust= there would be inherited by them.
SESSION_UNITS = re.compile(r'^(?:cron|crond|atd|console-getty|(?:serial-|container-)?getty@.*|user@.*)\.service$')
_UNIT_NAME = re.compile(r'^[A-Za-z0-9:_.\\@-]+\Z')
_OTHER_UNIT_TYPES = ('.socket', '.slice', '.scope', '.mount', '.swap', '.target', '.timer', '.path', '.device')
# The drop-in this module writes for a unit: /etc/systemd/system/UNIT.d/DROPIN_NAME. It sorts before
# override.conf, so what `systemctl edit` writes still wins (the module then warns).
DROPIN_NAME = 'lowmem-protect.conf'
DROPIN_HEADER = '# Managed by lowmem.hardening.oom_protect'
# The comment in /etc/default/earlyoom that says which expressions in EARLYOOM_ARGS are this module's.
EARLYOOM_MARKER = '# lowmem.hardening.oom_protect wrote: '
EARLYOOM_VARIABLE = 'EARLYOOM_ARGS'
COMM_LENGTH = 15  # the kernel keeps 15 bytes of a process name (TASK_COMM_LEN - 1); earlyoom matches those
_REGEX_SPECIAL = re.compile(r'([.^$*+?{}\[\]\\|()])')
# What must be escaped inside "..." for both sh and systemd's EnvironmentFile=: quotes, backquotes, a $ that sh
# would expand, and a backslash that would escape the next character. Everything else is kept as written.
_QUOTED_SPECIAL = re.compile(r'\\(?=[\\"$`]|\Z)|["`]|\$(?=[A-Za-z0-9_{(*@#?$!-])')
_EXEC_PATH = re.compile(r'(?:^|[{;]) ?path=([^ ;]+)')

UnitPlan = collections.namedtuple('UnitPlan', 'unit level score_adjust oomd_preference earlyoom')


class ProtectError(ValueError):
    """A request that must be refused; the message names the parameter and the killer."""


def unit_of(name):
    """'ssh' -> 'ssh.service'; 'x.service' stays. Other unit types are refused: only services run processes
    that OOMScoreAdjust= and earlyoom's names can reach."""
    if not isinstance(name, str) or not _UNIT_NAME.match(name) or name.startswith('-'):
        raise ProtectError('services: %r is not a systemd unit name (letters, digits and :_.\\@-)' % (name,))
    if name.endswith(_OTHER_UNIT_TYPES):
        raise ProtectError('services: %s is not a service; give a service name such as ssh or postgresql.service'
                           % name)
    return name if name.endswith('.service') else name + '.service'


def check_services(services):
    """{name: level} -> [(unit, level)] sorted by unit; refuses unknown levels and a unit named twice."""
    if not isinstance(services, dict):
        raise ProtectError('services: give a dict of unit name to level (%s)' % ', '.join(LEVELS))
    found = {}
    for name, level in services.items():
        unit = unit_of(name)
        if level not in LEVELS:
            raise ProtectError('services.%s: %r is not a level; use %s' % (name, level, ', '.join(LEVELS)))
        if unit in found:
            raise ProtectError('services: %s is named twice' % unit)
        found[unit] = level
    return sorted(found.items())


def plan_unit(unit, level, killers):
    """What to write for one unit, given the killers present ('systemd-oomd', 'earlyoom'; the kernel's are
    always there). Raises ProtectError when a killer cannot honour the level, saying which and why."""
    if 'systemd-oomd' in killers and level not in OOMD_PREFERENCE:
        raise ProtectError('services.%s: systemd-oomd cannot honour %s: ManagedOOMPreference= has only avoid and '
                           'omit' % (unit, level))
    if unit in SELF_PROTECTING:
        if level != 'protect':
            raise ProtectError('services.%s: only protect is possible: OOMScoreAdjust= here would be inherited by '
                               'every login session (the sshd trap); OpenSSH keeps its listener at -1000 itself'
                               % unit)
        score_adjust = None
    elif SESSION_UNITS.match(unit):
        raise ProtectError('services.%s: its children are users\' sessions or jobs, which would inherit its '
                           'oom_score_adj; protect the services they run instead' % unit)
    else:
        score_adjust = SCORE_ADJUST[level]
    return UnitPlan(unit, level, score_adjust, OOMD_PREFERENCE.get(level) if 'systemd-oomd' in killers else None,
                    EARLYOOM_FLAG[level] if 'earlyoom' in killers else None)


def render_dropin(plan):
    """The drop-in for one unit (/etc/systemd/system/UNIT.d/NAME.conf). ssh's says why it sets no
    OOMScoreAdjust=; it is written all the same, so that the protection can be found on the host."""
    lines = []
    if plan.score_adjust is not None:
        lines.append('OOMScoreAdjust=%d' % plan.score_adjust)
    elif plan.unit in SELF_PROTECTING:
        lines.append('# No OOMScoreAdjust=: every login session would inherit it. OpenSSH keeps its listener at -1000.')
    if plan.oomd_preference is not None:
        lines.append('ManagedOOMPreference=%s' % plan.oomd_preference)
    return ('%s: %s. Local changes are overwritten.\n[Service]\n%s\n'
            % (DROPIN_HEADER, plan.level, '\n'.join(lines)))


def names_regex(names):
    """earlyoom's regular expression for exactly these process names: ^(a|b)$, or None for none."""
    names = sorted(set(names))
    return '^(%s)$' % '|'.join(_REGEX_SPECIAL.sub(r'\\\1', name) for name in names) if names else None


def merge_earlyoom_args(args, flag, ours_before, ours):
    """args (a list) with `flag`'s regular expression holding `ours` in place of `ours_before`.

    The user's own expression is kept: ours is joined to it with | in front, and taken out again by the
    exact text it was written with. ours None removes ours. Returns a new list.
    """
    args = list(args)
    index = next((i for i, arg in enumerate(args) if arg == flag or arg.startswith(flag + '=')), None)
    current = None
    if index is not None:
        current = args[index + 1] if args[index] == flag and index + 1 < len(args) else args[index][len(flag) + 1:]
        del args[index:index + (2 if args[index] == flag and index + 1 < len(args) else 1)]
    users = current
    if current is not None and ours_before is not None:
        if current == ours_before:
            users = None
        elif current.startswith(ours_before + '|'):
            users = current[len(ours_before) + 1:]
    value = '|'.join(part for part in (ours, users) if part)
    if value:
        position = index if index is not None else len(args)
        args[position:position] = [flag, value]
    return args


def parse_show(text):
    """`systemctl show -p ... UNIT...` -> [{property: value}], one per unit asked for, in that order (units are
    separated by blank lines). Keyed by position, not Id: an alias (sshd.service on Debian) shows its unit's Id."""
    units, current = [], {}
    for line in text.splitlines() + ['']:
        key, sep, value = line.partition('=')
        if sep:
            current[key] = value
        elif current:
            units.append(current)
            current = {}
    return units


def process_name(unit, exec_start):
    """The name earlyoom sees for a unit's main process: its ExecStart binary's (or, for a unit not installed,
    the unit's own stem), cut to the kernel's 15 bytes."""
    match = _EXEC_PATH.search(exec_start or '')
    name = match.group(1).rsplit('/', 1)[-1] if match else unit[:-len('.service')].split('@')[0]
    return name[:COMM_LENGTH]


def _unquote(value):
    """A value of a shell-style assignment as systemd's EnvironmentFile= and sh read it (one line)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r'\\([\\"$`])', r'\1', value[1:-1])
    return value


def _assignment_index(lines, name):
    prefix = name + '='
    return next((i for i, line in enumerate(lines) if line.lstrip().startswith(prefix)), None)


def read_earlyoom_defaults(text):
    """(EARLYOOM_ARGS as earlyoom gets them, {flag: the expression this module wrote}) from /etc/default/earlyoom.

    systemd passes $EARLYOOM_ARGS split on whitespace, with no further quote removal, so that is the split."""
    lines = (text or '').splitlines()
    index = _assignment_index(lines, EARLYOOM_VARIABLE)
    args = _unquote(lines[index].split('=', 1)[1]).split() if index is not None else []
    ours = {}
    for line in lines:
        if line.startswith(EARLYOOM_MARKER):
            words = line[len(EARLYOOM_MARKER):].split()
            ours = dict((flag, value) for flag, value in zip(words[::2], words[1::2]) if flag in ('--avoid', '--prefer'))
    return args, ours


def render_earlyoom_defaults(text, args, ours):
    """/etc/default/earlyoom with EARLYOOM_ARGS set to args and the marker saying which expressions are ours
    (no marker when none are). Every other line is kept as it is."""
    lines = [line for line in (text or '').splitlines() if not line.startswith(EARLYOOM_MARKER)]
    quoted = _QUOTED_SPECIAL.sub(lambda match: '\\' + match.group(0), ' '.join(args))
    assignment = '%s="%s"' % (EARLYOOM_VARIABLE, quoted)
    index = _assignment_index(lines, EARLYOOM_VARIABLE)
    if index is None:
        index = len(lines)
        lines.append(assignment)
    elif _unquote(lines[index].split('=', 1)[1]).split() != list(args):  # the user's spelling stays if it says the same
        lines[index] = assignment
    if ours:
        marker = EARLYOOM_MARKER + ' '.join('%s %s' % (flag, ours[flag]) for flag in sorted(ours))
        lines.insert(index, marker)
    return '\n'.join(lines) + '\n'


def unit_setting(texts, key):
    """The value of key= that systemd takes from unit files given in the order it reads them (the fragment,
    then the drop-ins): the last assignment wins, an empty one resets it (None)."""
    value = None
    for text in texts:
        for line in text.splitlines():
            name, sep, rest = line.strip().partition('=')
            if sep and name.strip() == key:
                value = rest.strip() or None
    return value


def processes_to_change(processes, old_values, new_value):
    """[(pid, name, before, after)] for the unit's processes that carry a value systemd gave them: the unit's
    current one or its own (without this module's drop-in; a run interrupted before the processes were set
    leaves them there). A process that set another value itself (OpenSSH's listener, PostgreSQL's backends)
    is left as it is."""
    return [(pid, name, adj, new_value) for pid, name, adj in processes if adj in old_values and adj != new_value]


def honoured_by(plan, killers):
    """The killers present that read what this plan writes for the unit, in a fixed order."""
    readers = []
    if plan.score_adjust is not None or plan.unit in SELF_PROTECTING:
        readers.append('oom-killer')
        if 'lowmemorykiller' in killers:
            readers.append('lowmemorykiller')
    if plan.oomd_preference is not None:
        readers.append('systemd-oomd')
    if plan.earlyoom is not None:
        readers.append('earlyoom')
    return readers


def level_of_dropin(text):
    """The level a drop-in of this module records in its header, or None for any other file."""
    first = (text or '').split('\n', 1)[0]
    if not first.startswith(DROPIN_HEADER + ': '):
        return None
    level = first[len(DROPIN_HEADER) + 2:].split('.', 1)[0]
    return level if level in LEVELS else None
