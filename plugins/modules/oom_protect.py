#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: oom_protect
short_description: Shield named services from every memory killer on the host, or offer them first
version_added: 0.2.0
description:
  - Gives each service of O(services) a level, V(protect) (never chosen while anything else can be), V(avoid)
    (chosen late) or V(prefer) (chosen first), and writes what each killer on the host reads for it.
  - "The kernel's OOM killer and lowmemorykiller read C(oom_score_adj): a drop-in
    C(/etc/systemd/system/UNIT.d/lowmem-protect.conf) sets C(OOMScoreAdjust=) (V(protect) -1000, V(avoid) -500,
    V(prefer) 500), then C(systemctl daemon-reload). The service is not restarted: its running processes that
    still carry the unit's previous value get the new one at once. A process that set its own value (OpenSSH's
    listener, PostgreSQL's backends) keeps it, as it would after a restart."
  - Where C(systemd-oomd) is installed, the drop-in also sets C(ManagedOOMPreference=) (V(protect) omit,
    V(avoid) avoid). systemd-oomd has no way to prefer a unit, so V(prefer) is refused there.
  - Where C(earlyoom) is installed, the services' process names go into one C(--avoid) and one C(--prefer)
    expression of C(EARLYOOM_ARGS) in C(/etc/default/earlyoom). The user's own expressions and arguments are
    kept; a comment line records which expression is this module's. earlyoom is restarted only when its
    arguments changed, and only if it was running.
  - O(services) is the whole set. A service this module protected before and that is no longer listed gets its
    drop-in removed, its processes the unit's own value back, and its name out of earlyoom's arguments.
  - "The sshd trap is avoided by design: the kernel gives every child its parent's C(oom_score_adj), so
    C(OOMScoreAdjust=-1000) on C(ssh.service) would make every login session and everything users run from it
    unkillable. OpenSSH on Linux keeps its listener at -1000 by itself and gives each session the value it
    started with, so for V(ssh) and V(sshd) the module writes no C(OOMScoreAdjust=) at all (their drop-in says
    why), and only V(protect) is accepted. Units whose children are users' sessions or jobs (cron, atd, getty, user@) are refused."
  - A level that a killer on the host cannot honour is refused, naming the killer. A service that is not
    installed is refused unless O(allow_missing=true).
author:
  - lowmem.hardening maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Predicts the files, the processes' new values and earlyoom's arguments, and writes nothing.
  diff_mode:
    support: full
    description: Shows each drop-in, C(/etc/default/earlyoom) and the processes' C(oom_score_adj) before and after.
  platform:
    support: full
    platforms: posix
    description: Linux with systemd as init. On any other host the module fails and changes nothing.
extends_documentation_fragment:
  - lowmem.hardening.host
notes:
  - Under lowmemorykiller a process is never a candidate while its C(oom_score_adj) is below the lowest C(adj)
    of the table, so V(avoid) (-500) and V(protect) both keep a service out of reach of the usual tables
    (lowest C(adj) 0). M(lowmem.hardening.lowmemorykiller_info) reports where a table reaches a protected service.
  - earlyoom matches process names (the kernel keeps their first 15 bytes), taken from each service's
    C(ExecStart=) binary, or from the unit's name for a service not installed yet. Where that binary is an
    interpreter, the expression covers every process of that interpreter; the module warns.
  - A drop-in that sorts after C(lowmem-protect.conf), such as C(override.conf) from C(systemctl edit), wins
    over it; the module then warns and reports the value systemd uses.
options:
  services:
    description:
      - Service name (V(ssh), V(postgresql@15-main), V(my-batch.service)) to level, V(protect), V(avoid) or
        V(prefer). A name without a suffix means the C(.service) unit.
      - Required with O(state=present); ignored with O(state=absent).
    type: dict
  state:
    description:
      - V(present) makes the host hold exactly O(services).
      - V(absent) removes every drop-in and earlyoom expression this module wrote, and gives the processes their
        units' own values back.
    type: str
    choices: [present, absent]
    default: present
  allow_missing:
    description:
      - Write the drop-ins of services that are not installed yet, so that they start protected. Their earlyoom
        name is taken from the unit's name.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Never kill sshd or the database; kill the batch job first
  lowmem.hardening.oom_protect:
    services:
      ssh: protect
      postgresql@15-main: avoid
      my-batch: prefer

- name: Protect an agent that the next task installs
  lowmem.hardening.oom_protect:
    services:
      monitoring-agent: protect
    allow_missing: true

- name: Remove every protection this module wrote
  lowmem.hardening.oom_protect:
    state: absent
'''

RETURN = r'''
killers:
  description: The memory killers on the host, the kernel's OOM killer always first.
  returned: always
  type: list
  elements: str
  sample: [oom-killer, lowmemorykiller, earlyoom]
services:
  description: One entry per service of O(services), sorted by unit (empty with O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    unit:
      description: The systemd unit.
      type: str
      sample: postgresql@15-main.service
    level:
      description: The level asked for.
      type: str
      sample: avoid
    installed:
      description: Whether systemd knows the unit.
      type: bool
      sample: true
    dropin:
      description: The drop-in written for it. For V(ssh) and V(sshd) it holds no C(OOMScoreAdjust=), only why.
      type: str
      sample: /etc/systemd/system/postgresql@15-main.service.d/lowmem-protect.conf
    oom_score_adjust:
      description: C(OOMScoreAdjust=) as systemd shows it after the run (predicted in check mode); null for a
        unit that is not installed.
      type: int
      sample: -500
    managed_oom_preference:
      description: C(ManagedOOMPreference=) written, or null.
      type: str
      sample: avoid
    earlyoom:
      description: The earlyoom flag whose expression holds the service's process name, or null.
      type: str
      sample: --avoid
    process_name:
      description: The process name earlyoom matches for the service.
      type: str
      sample: postgres
    honoured_by:
      description: The killers on the host that read what was written for the service.
      type: list
      elements: str
      sample: [oom-killer, lowmemorykiller, earlyoom]
processes:
  description: The processes whose C(oom_score_adj) this run changed (would change in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{pid: 812, name: postgres, unit: postgresql@15-main.service, before: -900, after: -500}]
not_applied:
  description: The processes whose C(oom_score_adj) should be lowered but cannot be, because the host does not give
    C(CAP_SYS_RESOURCE) (an unprivileged container); same keys as RV(processes). systemd cannot lower them
    either there. The drop-ins are written all the same.
  returned: always
  type: list
  elements: dict
  sample: []
earlyoom_args:
  description: C(EARLYOOM_ARGS) after the run, or null where earlyoom is not installed.
  returned: always
  type: str
  sample: -r 3600 --avoid ^(postgres|sshd)$ --prefer ^(batch)$
restarted:
  description: Services restarted by this run (earlyoom, when its arguments changed and it was running).
  returned: always
  type: list
  elements: str
  sample: [earlyoom.service]
'''

import collections
import errno
import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.plugins.module_utils import oom_protect as protect

# Module-level so that unit tests can point them elsewhere.
SYSTEMD_RUNTIME = '/run/systemd/system'
UNIT_DIRECTORY = '/etc/systemd/system'
EARLYOOM_DEFAULTS = '/etc/default/earlyoom'
LMK_PARAMETERS = '/sys/module/lowmemorykiller/parameters'

KILLER_UNITS = {'systemd-oomd': 'systemd-oomd.service', 'earlyoom': 'earlyoom.service'}
SHOW = 'Id,LoadState,ActiveState,NeedDaemonReload,ControlGroup,ExecStart,OOMScoreAdjust,FragmentPath,DropInPaths'
INTERPRETERS = ('python', 'perl', 'ruby', 'node', 'java', 'php', 'sh', 'bash', 'dash')
NOT_APPLIED_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)
CAP_SYS_RESOURCE = 24  # needed to lower an oom_score_adj; unprivileged containers lack it
GONE_ERRNOS = (errno.ENOENT, errno.ESRCH)

Request = collections.namedtuple('Request', 'state levels allow_missing')
Host = collections.namedtuple('Host', 'killers units own processes can_lower dropins earlyoom')
Plan = collections.namedtuple('Plan', 'units dropins reload processes not_applied earlyoom_text earlyoom_args')


def dropin_path(unit):
    return os.path.join(UNIT_DIRECTORY, unit + '.d', protect.DROPIN_NAME)


def read_request(module):
    p = module.params
    levels = []
    if p['state'] == 'present':
        try:
            levels = protect.check_services(p['services'] or {})
        except protect.ProtectError as exc:
            module.fail_json(msg='%s. Nothing was changed.' % exc)
        if not levels:
            module.fail_json(msg='services: name at least one service with state=present (use state=absent to '
                                 'remove every protection). Nothing was changed.')
    return Request(p['state'], levels, p['allow_missing'])


def our_dropins():
    """{unit: text} of the drop-ins this module wrote."""
    found = {}
    for path in glob.glob(os.path.join(UNIT_DIRECTORY, '*.service.d', protect.DROPIN_NAME)):
        found[os.path.basename(os.path.dirname(path))[:-len('.d')]] = to_text(host.read_bytes(path))
    return found


def systemctl(module, *args):
    argv = [module.get_bin_path('systemctl', required=True)] + list(args)
    return host.checked_command(module, argv)


def show_units(module, units):
    """{unit as named: its properties}; an alias is known by the name it was given."""
    if not units:
        return {}
    shown = protect.parse_show(systemctl(module, 'show', '-p', SHOW, '--', *units))
    if len(shown) != len(units):
        raise host.StepFailed('systemctl show answered for %d of %d units' % (len(shown), len(units)))
    return dict(zip(units, shown))


def read_host(module, request):
    systemd = os.path.isdir(SYSTEMD_RUNTIME)
    dropins = our_dropins()
    if not systemd and (request.state == 'present' or dropins):
        module.fail_json(msg='oom_protect needs systemd as init (%s is missing): it protects services through '
                             'systemd drop-ins and their cgroups. Not supported on this host: OOMScoreAdjust=, '
                             'ManagedOOMPreference= and process names by unit. Nothing was changed.' % SYSTEMD_RUNTIME)
    wanted = [unit for unit, _level in request.levels]
    try:
        units = show_units(module, sorted(set(wanted) | set(dropins) | set(KILLER_UNITS.values())) if systemd else [])
    except host.StepFailed as exc:
        module.fail_json(msg='cannot read the units from systemd: %s. Nothing was changed.' % exc)
    killers = ['oom-killer'] + (['lowmemorykiller'] if os.path.isdir(LMK_PARAMETERS) else [])
    killers += [name for name in ('systemd-oomd', 'earlyoom')
                if units.get(KILLER_UNITS[name], {}).get('LoadState') == 'loaded']
    touched = [unit for unit in units if (unit in wanted or unit in dropins) and units[unit].get('LoadState') == 'loaded']
    own = dict((unit, own_value(module, units[unit])) for unit in touched)
    processes = dict((unit, []) for unit in touched)
    for process in host.read_processes() if touched else []:
        if process.unit in processes:
            processes[process.unit].append((process.pid, process.comm, process.oom_score_adj))
    earlyoom = host.copy_of(EARLYOOM_DEFAULTS) if 'earlyoom' in killers else None
    return Host(killers, units, own, processes, host.has_capability(CAP_SYS_RESOURCE), dropins, earlyoom)


def own_value(module, info):
    """The unit's OOMScoreAdjust= without this module's drop-in (systemd's default, 0, when nothing sets it)."""
    paths = [info.get('FragmentPath')] + (info.get('DropInPaths') or '').split()
    texts = [to_text(host.read_bytes(path)) for path in paths
             if path and os.path.basename(path) != protect.DROPIN_NAME]
    value = protect.unit_setting(texts, 'OOMScoreAdjust')
    try:
        return int(value) if value is not None else 0
    except ValueError:
        module.fail_json(msg='%s sets OOMScoreAdjust=%s, which is not a number. Nothing was changed.'
                             % (info.get('Id'), value))


def refuse_missing(module, request, current):
    masked = [unit for unit, _level in request.levels if current.units[unit].get('LoadState') == 'masked']
    missing = [unit for unit, _level in request.levels if current.units[unit].get('LoadState') != 'loaded']
    if masked:
        module.fail_json(msg='services: %s is masked; unmask it first. Nothing was changed.' % ', '.join(masked))
    if missing and not request.allow_missing:
        module.fail_json(msg='services: %s is not installed (systemd knows no such unit); install it first, or set '
                             'allow_missing=true to write its drop-in ahead of installation. Nothing was changed.'
                             % ', '.join(missing))


def plan_units(module, request, current):
    """({unit: UnitPlan}, {unit: (old drop-in, new drop-in)} where they differ)."""
    units, dropins = {}, {}
    for unit, level in request.levels:
        try:
            units[unit] = protect.plan_unit(unit, level, current.killers)
        except protect.ProtectError as exc:
            module.fail_json(msg='%s. Nothing was changed.' % exc)
    for unit in sorted(set(units) | set(current.dropins)):
        new = protect.render_dropin(units[unit]) if unit in units else None
        if current.dropins.get(unit) != new:
            dropins[unit] = (current.dropins.get(unit), new)
    return units, dropins


def target_values(current, units):
    """{unit: OOMScoreAdjust= systemd will show once the drop-ins are as planned} for the loaded units touched."""
    values = {}
    for unit in current.own:
        planned = units[unit].score_adjust if unit in units else None
        values[unit] = planned if planned is not None else current.own[unit]
    return values


def process_changes(current, values):
    """([(unit, pid, name, before, after)] to write, [the same] that cannot be: lowering a value needs
    CAP_SYS_RESOURCE) for the processes of units whose value becomes values[unit]."""
    changes = []
    for unit in sorted(values):
        old = set([int(current.units[unit]['OOMScoreAdjust']), current.own[unit]])
        changes.extend((unit,) + change for change in
                       protect.processes_to_change(current.processes.get(unit, []), old, values[unit]))
    refused = [change for change in changes if change[4] < change[3] and not current.can_lower]
    return [change for change in changes if change not in refused], refused


def plan_earlyoom(module, current, units):
    """(new /etc/default/earlyoom or None when it stays, EARLYOOM_ARGS after the run or None)."""
    if 'earlyoom' not in current.killers:
        return None, None
    text = to_text(current.earlyoom.content) if current.earlyoom else ''
    args, ours_before = protect.read_earlyoom_defaults(text)
    ours = {}
    for flag in ('--avoid', '--prefer'):
        names = [protect.process_name(unit, current.units[unit].get('ExecStart'))
                 for unit, unit_plan in units.items() if unit_plan.earlyoom == flag]
        interpreters = [name for name in names if name.rstrip('0123456789.') in INTERPRETERS]
        if interpreters:
            module.warn('earlyoom matches process names, and %s runs as %s: %s %s covers every such process'
                        % (', '.join(sorted(unit for unit in units if units[unit].earlyoom == flag)),
                           ', '.join(sorted(set(interpreters))), flag, protect.names_regex(names)))
        regex = protect.names_regex(names)
        args = protect.merge_earlyoom_args(args, flag, ours_before.get(flag), regex)
        if regex:
            ours[flag] = regex
    new_text = protect.render_earlyoom_defaults(text, args, ours)
    return (new_text if new_text != text else None), ' '.join(args)


def plan(module, request, current):
    units, dropins = plan_units(module, request, current)
    # A run interrupted between writing a drop-in and daemon-reload leaves systemd asking for the reload.
    reload = bool(dropins) or any(current.units[unit].get('NeedDaemonReload') == 'yes' for unit in current.own)
    earlyoom_text, earlyoom_args = plan_earlyoom(module, current, units)
    processes, not_applied = process_changes(current, target_values(current, units))
    return Plan(units, dropins, reload, processes, not_applied, earlyoom_text, earlyoom_args)


def write_adj(pid, value):
    host.write_once(os.path.join(host.PROC, str(pid), 'oom_score_adj'), to_bytes('%d\n' % value))


def set_processes(changes, planned):
    """Write each process's new value; returns (written, not applied). A process gone meanwhile is skipped."""
    written, not_applied = [], []
    for change in planned:
        pid, before, after = change[1], change[3], change[4]
        try:
            write_adj(pid, after)
        except (IOError, OSError) as exc:
            if exc.errno in GONE_ERRNOS:
                continue
            if exc.errno in NOT_APPLIED_ERRNOS:
                not_applied.append(change)
                continue
            raise
        changes.did(lambda pid=pid, before=before: restore_adj(pid, before))
        written.append(change)
    return written, not_applied


def restore_adj(pid, value):
    try:
        write_adj(pid, value)
    except (IOError, OSError) as exc:
        if exc.errno not in GONE_ERRNOS:
            raise


def write_dropins(module, changes, dropins):
    changes.did(lambda: systemctl(module, 'daemon-reload'))
    for unit, (_old, new) in sorted(dropins.items()):
        path = dropin_path(unit)
        if new is not None:
            changes.write_file(path, new, mode=0o644)
            continue
        changes.remove_file(path)
        directory = os.path.dirname(path)
        if not os.listdir(directory):
            os.rmdir(directory)
            changes.did(lambda directory=directory: os.mkdir(directory, 0o755))
    systemctl(module, 'daemon-reload')


def apply(module, changes, current, the_plan):
    """Drop-ins, daemon-reload, the processes' values as systemd now shows them, earlyoom. Returns
    (processes written, processes not applied, services restarted, {unit: value systemd shows})."""
    shown = {}
    planned, not_applied = the_plan.processes, the_plan.not_applied
    if the_plan.reload:
        write_dropins(module, changes, the_plan.dropins)
        reloaded = show_units(module, sorted(current.own))
        shown = dict((unit, int(info['OOMScoreAdjust'])) for unit, info in reloaded.items()
                     if info.get('LoadState') == 'loaded' and info.get('OOMScoreAdjust'))
        values = target_values(current, the_plan.units)
        values.update(shown)
        planned, not_applied = process_changes(current, values)
    written, refused = set_processes(changes, planned)
    not_applied = not_applied + refused
    restarted = []
    if the_plan.earlyoom_text is not None:
        running = current.units[KILLER_UNITS['earlyoom']].get('ActiveState') in ('active', 'activating')
        if running:
            changes.did(lambda: systemctl(module, 'try-restart', KILLER_UNITS['earlyoom']))
        changes.write_file(EARLYOOM_DEFAULTS, the_plan.earlyoom_text, mode=None)
        if running:
            systemctl(module, 'try-restart', KILLER_UNITS['earlyoom'])
            restarted.append(KILLER_UNITS['earlyoom'])
    return written, not_applied, restarted, shown


def describe_services(current, the_plan, shown):
    described = []
    for unit, unit_plan in sorted(the_plan.units.items()):
        info = current.units.get(unit, {})
        installed = info.get('LoadState') == 'loaded'
        value = shown.get(unit)
        if value is None and installed:
            value = unit_plan.score_adjust if unit_plan.score_adjust is not None else int(info['OOMScoreAdjust'])
        described.append(dict(
            unit=unit, level=unit_plan.level, installed=installed,
            dropin=dropin_path(unit),
            oom_score_adjust=value, managed_oom_preference=unit_plan.oomd_preference, earlyoom=unit_plan.earlyoom,
            process_name=protect.process_name(unit, info.get('ExecStart')),
            honoured_by=protect.honoured_by(unit_plan, current.killers)))
    return described


def warnings(module, current, the_plan, shown, not_applied):
    for unit, unit_plan in sorted(the_plan.units.items()):
        if unit in shown and unit_plan.score_adjust is not None and shown[unit] != unit_plan.score_adjust:
            module.warn('%s: a drop-in after %s sets OOMScoreAdjust=%d, and systemd uses that'
                        % (unit, protect.DROPIN_NAME, shown[unit]))
        running = current.processes.get(unit)
        if unit in protect.SELF_PROTECTING and running and not any(adj == -1000 for _p, _n, adj in running):
            module.warn('%s: no process of it runs at oom_score_adj -1000, so this OpenSSH does not protect its '
                        'listener itself; nothing was written for it, to keep login sessions killable' % unit)
    if not_applied:
        module.warn('Cannot lower oom_score_adj of %s here: it needs CAP_SYS_RESOURCE, which this host does not give '
                    '(an unprivileged container?), and systemd cannot lower it either when it starts the service. '
                    'The drop-ins are written and take effect on a host that gives it.'
                    % ', '.join('%d (%s)' % (change[1], change[2]) for change in not_applied))


def process_list(changes):
    return [dict(unit=unit, pid=pid, name=name, before=before, after=after) for unit, pid, name, before, after in changes]


def report(module, current, the_plan, processes, not_applied, restarted, shown):
    result = dict(
        changed=bool(the_plan.reload or processes or the_plan.earlyoom_text is not None),
        killers=current.killers, services=describe_services(current, the_plan, shown),
        processes=process_list(processes), not_applied=process_list(not_applied),
        earlyoom_args=the_plan.earlyoom_args, restarted=restarted)
    if module._diff:
        diff = [dict(before_header=dropin_path(unit), after_header=dropin_path(unit), before=old or '', after=new or '')
                for unit, (old, new) in sorted(the_plan.dropins.items())]
        if the_plan.earlyoom_text is not None:
            diff.append(dict(before_header=EARLYOOM_DEFAULTS, after_header=EARLYOOM_DEFAULTS,
                             before=to_text(current.earlyoom.content) if current.earlyoom else '',
                             after=the_plan.earlyoom_text))
        if processes:
            header = 'oom_score_adj (runtime)'
            diff.append(dict(before_header=header, after_header=header,
                             before=''.join('%d %s (%s): %d\n' % (p, n, u, b) for u, p, n, b, _a in processes),
                             after=''.join('%d %s (%s): %d\n' % (p, n, u, a) for u, p, n, _b, a in processes)))
        result['diff'] = diff
    return result


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            services=dict(type='dict'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            allow_missing=dict(type='bool', default=False),
        ),
        required_if=[('state', 'present', ['services'])],
        supports_check_mode=True,
    )


def main():
    module = build_module()
    host.require_root(module, 'write systemd drop-ins and set oom_score_adj')
    request = read_request(module)
    with host.locked(UNIT_DIRECTORY, os.path.dirname(EARLYOOM_DEFAULTS)):
        current = read_host(module, request)
        refuse_missing(module, request, current)
        the_plan = plan(module, request, current)
        processes, not_applied, restarted, shown = the_plan.processes, the_plan.not_applied, [], {}
        if not module.check_mode:
            seen = report(module, current, the_plan._replace(dropins={}, reload=False, earlyoom_text=None), [], [], [],
                          {})
            with host.Changes(module, seen, undone='Every file, process and service was put back as it was.',
                              incomplete='Could not undo everything: %s.') as changes:
                processes, not_applied, restarted, shown = apply(module, changes, current, the_plan)
    warnings(module, current, the_plan, shown, not_applied)
    module.exit_json(**report(module, current, the_plan, processes, not_applied, restarted, shown))


if __name__ == '__main__':
    main()
