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
_UNIT_SUFFIXES = ('.service', '.socket', '.slice', '.scope', '.mount', '.swap')

UnitPlan = collections.namedtuple('UnitPlan', 'unit level score_adjust oomd_preference earlyoom')


class ProtectError(ValueError):
    """A request that must be refused; the message names the parameter and the killer."""


def unit_of(name):
    """'ssh' -> 'ssh.service'; a name with a unit suffix stays as it is."""
    if not isinstance(name, str) or not _UNIT_NAME.match(name) or name.startswith('-'):
        raise ProtectError('services: %r is not a systemd unit name (letters, digits and :_.\\@-)' % (name,))
    return name if name.endswith(_UNIT_SUFFIXES) else name + '.service'


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
    """The drop-in for one unit (/etc/systemd/system/UNIT.d/NAME.conf), or None when it needs none."""
    lines = []
    if plan.score_adjust is not None:
        lines.append('OOMScoreAdjust=%d' % plan.score_adjust)
    if plan.oomd_preference is not None:
        lines.append('ManagedOOMPreference=%s' % plan.oomd_preference)
    if not lines:
        return None
    return ('# Managed by lowmem.hardening.oom_protect: %s. Local changes are overwritten.\n[Service]\n%s\n'
            % (plan.level, '\n'.join(lines)))


def names_regex(names):
    """earlyoom's regular expression for exactly these process names: ^(a|b)$, or None for none."""
    names = sorted(set(names))
    return '^(%s)$' % '|'.join(re.escape(name) for name in names) if names else None


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
