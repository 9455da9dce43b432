#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: sysctl
short_description: Apply kernel sysctls at runtime and persist them in one sysctl.d file
version_added: 0.1.0
description:
  - Writes every value of O(values) to C(/proc/sys) when the kernel shows something else, and writes the
    whole set to one file under C(/etc/sysctl.d) so that the values come back at boot.
  - Reports C(changed) only when the file or a runtime value really changed. Values are compared as the
    kernel shows them, split on whitespace, so V(32768 60999) matches the tab-separated
    C(net.ipv4.ip_local_port_range).
  - Every runtime value is snapshotted first. A write the kernel refuses, or whose value reads back
    differently, restores the values already written and fails, and the file is left as it was.
  - Where C(/proc/sys) is read-only or not writable (containers), the file is still written; a warning
    names the values that could not be applied at runtime and RV(not_applied) lists them.
  - The file is written atomically, root-owned, mode 0644, with a header saying lowmem.hardening
    manages it. It holds exactly O(values) in the order given; a name dropped from O(values) leaves the
    file but keeps its runtime value.
author:
  - lowmem.hardening maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Predicts the file and runtime changes and writes nothing. Values that could not be
      applied at runtime are predicted from whether C(/proc/sys) is writable.
  diff_mode:
    support: full
    description: Shows the file and the runtime values before and after.
  platform:
    support: full
    platforms: posix
    description: Linux.
extends_documentation_fragment:
  - lowmem.hardening.host
  - lowmem.hardening.host.backup
notes:
  - Nothing here runs C(sysctl --system). The file is read at boot by C(systemd-sysctl) or by procps
    C(sysctl --system), whichever the host has.
  - A kernel sysctl that is read-only by design (mode 0444 in C(/proc/sys)) is reported like a read-only
    C(/proc/sys), with a warning and in RV(not_applied).
options:
  values:
    description:
      - Sysctl name in dotted form (V(vm.swappiness)) to value.
      - Names are lower-case letters, digits, V(_) and V(-) between dots. With O(apply=true) each must exist
        under C(/proc/sys) on the host; an unknown name fails before anything is written.
      - A value is an integer or a one-line string, written as the kernel shows it (V(10), V(32768 60999)).
        A value the kernel stores differently (V(0x10) reads back C(16)) fails, so that runs stay idempotent.
      - Required and not empty with O(state=present); ignored with O(state=absent).
    type: dict
  file:
    description:
      - The sysctl.d file holding the values.
      - Any absolute path is accepted; only files in a directory that C(systemd-sysctl) or C(sysctl --system)
        reads (C(/etc/sysctl.d) is the usual one) are applied at boot. A missing last directory is created
        (mode 0755).
    type: path
    default: /etc/sysctl.d/60-lowmem-hardening.conf
  state:
    description:
      - V(present) applies O(values) and writes the file.
      - V(absent) removes the file and leaves the runtime values as they are.
    type: str
    choices: [present, absent]
    default: present
  apply:
    description:
      - Whether to write C(/proc/sys/<name with dots as slashes>) where it differs from O(values).
      - With V(false) only the file is managed and names need not exist under C(/proc/sys) yet (a sysctl of
        a kernel module that loads later).
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Prefer dropping caches to swapping, now and after every boot
  lowmem.hardening.sysctl:
    values:
      vm.swappiness: 10
      vm.vfs_cache_pressure: 50

- name: A range value; the kernel shows it tab-separated, compared after splitting
  lowmem.hardening.sysctl:
    values:
      net.ipv4.ip_local_port_range: "32768 60999"
    file: /etc/sysctl.d/61-ports.conf

- name: Only write the file (the bridge module is loaded later at boot)
  lowmem.hardening.sysctl:
    values:
      net.bridge.bridge-nf-call-iptables: 1
    file: /etc/sysctl.d/62-bridge.conf
    apply: false

- name: Remove the file; runtime values stay until the next boot
  lowmem.hardening.sysctl:
    state: absent
'''

RETURN = r'''
file:
  description: The sysctl.d file managed.
  returned: always
  type: str
  sample: /etc/sysctl.d/60-lowmem-hardening.conf
values:
  description: What the file holds after the run (predicted in check mode), name to value as written; empty
    with O(state=absent).
  returned: always
  type: dict
  sample: {vm.swappiness: '10', vm.vfs_cache_pressure: '50'}
runtime:
  description: Name to value as C(/proc/sys) shows it after the run (predicted in check mode), whitespace
    runs shown as one space. Names missing under C(/proc/sys) (possible with O(apply=false)) are left out;
    empty with O(state=absent).
  returned: always
  type: dict
  sample: {vm.swappiness: '10', vm.vfs_cache_pressure: '50'}
changed_runtime:
  description: Names whose runtime value this run changed (would change in check mode).
  returned: always
  type: list
  elements: str
  sample: [vm.swappiness]
not_applied:
  description: Names whose runtime value differs but could not be written because C(/proc/sys) is read-only
    or not writable; the file holds them.
  returned: always
  type: list
  elements: str
  sample: []
file_changed:
  description: Whether the file was (would be) created, rewritten, re-owned, re-moded or removed.
  returned: always
  type: bool
  sample: true
backup_file:
  description: The copy of the file made before it was changed.
  returned: when O(backup=true) and the file existed and changed
  type: str
  sample: /etc/sysctl.d/60-lowmem-hardening.conf.12345.2026-12-04@22:30:00~
'''

import collections
import errno
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.plugins.module_utils.sysctl import (
    name_to_path,
    normalise_kernel_text,
    plan_runtime,
    render_file,
    render_lines,
    validate_values,
)

# Module-level so that unit tests can point it at a directory of plain files.
PROC_SYS = '/proc/sys'

FILE_MODE = 0o644
# What a read-only or unwritable /proc/sys (containers) answers to a write.
NOT_APPLIED_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)

Request = collections.namedtuple('Request', 'path state pairs apply backup')
Host = collections.namedtuple('Host', 'runtime old_text attrs_ok')
Plan = collections.namedtuple('Plan', 'new_text file_changed to_change')


class KernelRefused(host.StepFailed):
    """A runtime write the kernel refused or stored differently."""


def proc_path(name):
    return os.path.join(PROC_SYS, name_to_path(name))


def write_runtime(name, value):
    host.write_once(proc_path(name), to_bytes(value + '\n', errors='surrogate_or_strict'))


def read_runtime(name):
    with open(proc_path(name), 'rb') as proc_file:
        return normalise_kernel_text(to_text(proc_file.read(), errors='surrogate_or_strict'))


def read_request(module):
    p = module.params
    path = p['file']
    if not os.path.isabs(path):
        module.fail_json(msg='file: must be an absolute path such as /etc/sysctl.d/60-lowmem-hardening.conf, '
                             'got %r' % path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory) and not os.path.isdir(os.path.dirname(directory)):
        module.fail_json(msg='file: neither %s nor its parent directory exists; nothing was changed' % directory)
    pairs = []
    if p['state'] == 'present':
        pairs, errors = validate_values(p['values'] or {})
        if errors:
            module.fail_json(msg='values: %s. Nothing was changed.' % '; '.join(errors))
        if not pairs:
            module.fail_json(msg='values: must name at least one sysctl with state=present '
                                 '(use state=absent to remove the file). Nothing was changed.')
    return Request(path, p['state'], pairs, p['apply'], p['backup'])


def read_host(module, request):
    """Runtime values of the names asked for, and the file; with apply, an unknown name fails the run."""
    runtime = {}
    errors = []
    for name, _value in request.pairs:
        if not os.path.isfile(proc_path(name)):
            errors.append('%s is not a sysctl on this host (no file %s)' % (name, proc_path(name)))
            continue
        try:
            runtime[name] = read_runtime(name)
        except (OSError, IOError) as exc:
            errors.append('cannot read %s from %s (%s)' % (name, proc_path(name), exc.strerror))
    if errors and request.apply and request.state == 'present':
        module.fail_json(msg='values: %s. Nothing was changed. Use apply=false to only write the file.'
                             % '; '.join(errors))
    try:
        old = host.copy_of(request.path)
    except (OSError, IOError, host.StepFailed) as exc:
        module.fail_json(msg='file: %s exists and cannot be read as a regular file (%s); nothing was changed'
                             % (request.path, host.describe(exc)))
    if old is None:
        return Host(runtime, None, False)
    attrs_ok = (old.mode, old.uid, old.gid) == (FILE_MODE, 0, 0)
    return Host(runtime, to_text(old.content, errors='surrogate_or_strict'), attrs_ok)


def plan(request, current):
    if request.state == 'absent':
        return Plan(None, current.old_text is not None, [])
    new_text = render_file(request.pairs)
    to_change = plan_runtime(request.pairs, current.runtime) if request.apply else []
    return Plan(new_text, current.old_text != new_text or not current.attrs_ok, to_change)


def apply(changes, request, current, the_plan):
    """Write runtime values, then the file; return (changed names, names not applied, backup file)."""
    wanted = dict(request.pairs)
    written, not_applied = [], []
    for name in the_plan.to_change:
        try:
            write_runtime(name, wanted[name])
        except (OSError, IOError) as exc:
            if exc.errno in NOT_APPLIED_ERRNOS:
                not_applied.append(name)
                continue
            # A refused vector write may have stored its first elements: the undo rewrites them too.
            changes.did(lambda name=name: write_runtime(name, current.runtime[name]))
            raise KernelRefused('values: the kernel refused %s = %s (%s)' % (name, wanted[name], exc.strerror))
        changes.did(lambda name=name: write_runtime(name, current.runtime[name]))
        written.append(name)
        shown = read_runtime(name)
        if shown != wanted[name]:
            raise KernelRefused('values: after writing %s = %s the kernel shows %s; give the value as the kernel '
                                'shows it' % (name, wanted[name], shown))
    backup_file = None
    if the_plan.file_changed:
        try:
            if request.state == 'absent':
                changes.remove_file(request.path)
            else:
                backup_file = changes.write_file(request.path, the_plan.new_text, mode=FILE_MODE,
                                                 backup=request.backup)
        except (OSError, IOError) as exc:
            raise host.StepFailed('file: cannot write %s (%s)' % (request.path, host.describe(exc)))
    return written, not_applied, backup_file


def predict_runtime(names):
    """Check mode: the names that could be written, and those that could not."""
    writable = [name for name in names if os.access(proc_path(name), os.W_OK)]
    return writable, [name for name in names if name not in writable]


def report(module, request, current, the_plan, written, not_applied):
    wanted = dict(request.pairs)
    runtime = dict(current.runtime) if request.state == 'present' else {}
    runtime.update((name, wanted[name]) for name in written)
    result = dict(changed=the_plan.file_changed or bool(written), file=request.path, values=wanted,
                  runtime=runtime, changed_runtime=written, not_applied=not_applied,
                  file_changed=the_plan.file_changed)
    if module._diff:
        file_diff = dict(before_header=request.path, after_header=request.path,
                         before=current.old_text or '', after=the_plan.new_text or '')
        present = [name for name, _value in request.pairs if name in current.runtime]
        result['diff'] = file_diff if request.state == 'absent' else [file_diff, dict(
            before_header='%s (runtime)' % PROC_SYS, after_header='%s (runtime)' % PROC_SYS,
            before=render_lines((name, current.runtime[name]) for name in present),
            after=render_lines((name, runtime[name]) for name in present))]
    return result


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            values=dict(type='dict'),
            file=dict(type='path', default='/etc/sysctl.d/60-lowmem-hardening.conf'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            apply=dict(type='bool', default=True),
            backup=dict(type='bool', default=False),
        ),
        required_if=[('state', 'present', ['values'])],
        supports_check_mode=True,
    )


def main():
    module = build_module()
    host.require_root(module, 'write %s and %s' % (PROC_SYS, module.params['file']))
    request = read_request(module)
    with host.locked(os.path.dirname(request.path), PROC_SYS):
        current = read_host(module, request)
        the_plan = plan(request, current)
        if module.check_mode:
            written, not_applied = predict_runtime(the_plan.to_change)
            backup_file = None
        else:
            result = report(module, request, current, the_plan._replace(file_changed=False), [], [])
            with host.Changes(module, result, undone='Runtime values were restored and the file was not changed.',
                              incomplete='Could not undo everything: %s.') as changes:
                written, not_applied, backup_file = apply(changes, request, current, the_plan)
    if not_applied:
        module.warn('Cannot apply at runtime, %s is read-only or not writable here (a container?): %s. '
                    '%s holds them for the next boot.' % (PROC_SYS, ', '.join(not_applied), request.path))
    result = report(module, request, current, the_plan, written, not_applied)
    if backup_file:
        result['backup_file'] = backup_file
    module.exit_json(**result)


if __name__ == '__main__':
    main()
