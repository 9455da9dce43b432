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
notes:
  - Needs root (C(become=true)); fails before touching anything otherwise.
  - Target Python 3.6 or newer.
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
'''

import errno
import os
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

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
DIR_MODE = 0o755
# What a read-only or unwritable /proc/sys (containers) answers to a write.
NOT_APPLIED_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


class Sysctl(object):

    def __init__(self, module):
        self.module = module
        self.path = module.params['file']
        self.apply = module.params['apply']

    # --- runtime (/proc/sys) -------------------------------------------------

    @staticmethod
    def proc_path(name):
        return os.path.join(PROC_SYS, name_to_path(name))

    def read_runtime(self, name):
        with open(self.proc_path(name), 'rb') as proc_file:
            return normalise_kernel_text(to_text(proc_file.read(), errors='surrogate_or_strict'))

    def write_runtime(self, name, value):
        # One unbuffered write, as `echo value > file` does; no O_CREAT.
        fd = os.open(self.proc_path(name), os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, to_bytes(value + '\n', errors='surrogate_or_strict'))
        finally:
            os.close(fd)

    def read_current(self, names):
        """Runtime values of `names`; with apply, an unknown or unreadable name fails the run."""
        current = {}
        errors = []
        for name in names:
            path = self.proc_path(name)
            if not os.path.isfile(path):
                errors.append('%s is not a sysctl on this host (no file %s)' % (name, path))
                continue
            try:
                current[name] = self.read_runtime(name)
            except (OSError, IOError) as exc:
                errors.append('cannot read %s from %s (%s)' % (name, path, exc.strerror))
        if errors and self.apply:
            self.module.fail_json(msg='values: %s. Nothing was changed. Use apply=false to only write the file.'
                                  % '; '.join(errors))
        return current

    def restore(self, names, snapshot):
        """Write snapshot values back, newest first; return the names that could not be restored."""
        failed = []
        for name in reversed(names):
            try:
                self.write_runtime(name, snapshot[name])
            except (OSError, IOError):
                failed.append(name)
        return failed

    def fail_restored(self, msg, written, snapshot):
        failed = self.restore(written, snapshot)
        if failed:
            msg += ' Could not restore the previous runtime value of %s.' % ', '.join(failed)
        elif written:
            msg += ' Runtime values were restored.'
        self.module.fail_json(msg=msg + ' The file was not changed.')

    def apply_runtime(self, wanted, snapshot, names):
        """Write `names`; return (changed, not_applied). Refusals other than read-only restore and fail."""
        changed = []
        not_applied = []
        for name in names:
            try:
                self.write_runtime(name, wanted[name])
            except (OSError, IOError) as exc:
                if exc.errno in NOT_APPLIED_ERRNOS:
                    not_applied.append(name)
                    continue
                # A refused vector write may have stored its first elements: restore this one too.
                self.fail_restored('values: the kernel refused %s = %s (%s).' % (name, wanted[name], exc.strerror),
                                   changed + [name], snapshot)
            changed.append(name)
            shown = self.read_runtime(name)
            if shown != wanted[name]:
                self.fail_restored('values: after writing %s = %s the kernel shows %s; give the value as the kernel '
                                   'shows it.' % (name, wanted[name], shown), changed, snapshot)
        return changed, not_applied

    def predict_runtime(self, names):
        """Check mode: the names that could be written, and those that could not."""
        writable = [name for name in names if os.access(self.proc_path(name), os.W_OK)]
        return writable, [name for name in names if name not in writable]

    # --- the sysctl.d file ------------------------------------------------------

    def read_file(self):
        """Return (text or None when absent, whether mode/owner are already right)."""
        try:
            st = os.lstat(self.path)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None, False
            self.module.fail_json(msg='file: cannot stat %s (%s)' % (self.path, exc.strerror))
        if not stat.S_ISREG(st.st_mode):
            self.module.fail_json(msg='file: %s exists and is not a regular file; nothing was changed' % self.path)
        with open(self.path, 'rb') as conf:
            text = to_text(conf.read(), errors='surrogate_or_strict')
        attrs_ok = stat.S_IMODE(st.st_mode) == FILE_MODE and st.st_uid == 0 and st.st_gid == 0
        return text, attrs_ok

    def write_file(self, text):
        """Atomically replace the file with `text`, root-owned 0644; undo a created directory on failure."""
        directory = os.path.dirname(self.path)
        created_dir = False
        tmp_path = None
        done = False
        try:
            if not os.path.isdir(directory):
                os.mkdir(directory, DIR_MODE)
                created_dir = True
            fd, tmp_path = tempfile.mkstemp(prefix='.%s.' % os.path.basename(self.path), dir=directory)
            with os.fdopen(fd, 'wb') as tmp_file:
                tmp_file.write(to_bytes(text, errors='surrogate_or_strict'))
            os.chmod(tmp_path, FILE_MODE)
            os.chown(tmp_path, 0, 0)
            self.module.atomic_move(tmp_path, self.path)
            tmp_path = None
            # atomic_move keeps an existing file's mode and owner; this file must be root's 0644.
            os.chmod(self.path, FILE_MODE)
            os.chown(self.path, 0, 0)
            done = True
        finally:
            if not done:
                if tmp_path is not None and os.path.exists(tmp_path):
                    os.remove(tmp_path)
                if created_dir:
                    os.rmdir(directory)

    # --- the run ----------------------------------------------------------------

    def check_file_path(self):
        if not os.path.isabs(self.path):
            self.module.fail_json(msg='file: must be an absolute path such as /etc/sysctl.d/60-lowmem-hardening.conf, '
                                      'got %r' % self.path)
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory) and not os.path.isdir(os.path.dirname(directory)):
            self.module.fail_json(msg='file: neither %s nor its parent directory exists; nothing was changed'
                                      % directory)

    def run(self):
        self.check_file_path()
        if self.module.params['state'] == 'absent':
            return self.remove()
        pairs, errors = validate_values(self.module.params['values'] or {})
        if errors:
            self.module.fail_json(msg='values: %s. Nothing was changed.' % '; '.join(errors))
        if not pairs:
            self.module.fail_json(msg='values: must name at least one sysctl with state=present '
                                      '(use state=absent to remove the file). Nothing was changed.')
        wanted = dict(pairs)
        names = [name for name, _value in pairs]

        snapshot = self.read_current(names)
        old_text, attrs_ok = self.read_file()
        new_text = render_file(pairs)
        file_changed = old_text != new_text or not attrs_ok

        to_change = plan_runtime(pairs, snapshot) if self.apply else []
        if self.module.check_mode:
            changed_runtime, not_applied = self.predict_runtime(to_change)
        else:
            changed_runtime, not_applied = self.apply_runtime(wanted, snapshot, to_change)
            if file_changed:
                self.write_file_or_restore(new_text, changed_runtime, snapshot)

        if not_applied:
            self.module.warn('Cannot apply at runtime, %s is read-only or not writable here (a container?): %s. '
                             '%s holds them for the next boot.' % (PROC_SYS, ', '.join(not_applied), self.path))

        runtime = dict(snapshot)
        runtime.update((name, wanted[name]) for name in changed_runtime)
        result = dict(
            changed=file_changed or bool(changed_runtime),
            file=self.path,
            values=wanted,
            runtime=runtime,
            changed_runtime=changed_runtime,
            not_applied=not_applied,
            file_changed=file_changed,
        )
        if self.module._diff:
            present = [name for name in names if name in snapshot]
            result['diff'] = [
                dict(before_header=self.path, after_header=self.path,
                     before=old_text or '', after=new_text),
                dict(before_header='%s (runtime)' % PROC_SYS, after_header='%s (runtime)' % PROC_SYS,
                     before=render_lines((name, snapshot[name]) for name in present),
                     after=render_lines((name, runtime[name]) for name in present)),
            ]
        self.module.exit_json(**result)

    def write_file_or_restore(self, text, written, snapshot):
        try:
            self.write_file(text)
        except (OSError, IOError) as exc:
            self.fail_restored('file: cannot write %s (%s).' % (self.path, exc.strerror), written, snapshot)
        except BaseException:
            # atomic_move reports its own failures through fail_json: undo the runtime writes then too.
            self.restore(written, snapshot)
            raise

    def remove(self):
        old_text, _attrs_ok = self.read_file()
        exists = old_text is not None
        if exists and not self.module.check_mode:
            try:
                os.remove(self.path)
            except OSError as exc:
                self.module.fail_json(msg='file: cannot remove %s (%s)' % (self.path, exc.strerror))
        result = dict(changed=exists, file=self.path, values={}, runtime={}, changed_runtime=[], not_applied=[],
                      file_changed=exists)
        if self.module._diff:
            result['diff'] = dict(before_header=self.path, after_header=self.path, before=old_text or '', after='')
        self.module.exit_json(**result)


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            values=dict(type='dict'),
            file=dict(type='path', default='/etc/sysctl.d/60-lowmem-hardening.conf'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            apply=dict(type='bool', default=True),
        ),
        required_if=[('state', 'present', ['values'])],
        supports_check_mode=True,
    )


def main():
    module = build_module()
    if os.geteuid() != 0:
        module.fail_json(msg='lowmem.hardening.sysctl must run as root to write %s and %s: use become: true. '
                             'Nothing was changed.' % (PROC_SYS, module.params['file']))
    Sysctl(module).run()


if __name__ == '__main__':
    main()
