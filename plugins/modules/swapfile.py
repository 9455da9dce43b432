#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: swapfile
short_description: Create, resize, activate and remove a swap file safely
version_added: 0.1.0
description:
  - Manages one swap file and its C(/etc/fstab) entry.
  - The file is owned by root with mode C(0600) from the instant it exists. It is built
    as a temporary C(.NAME.lowmem-tmp.RANDOM) in the same directory (filled, C(mkswap)ed,
    fsynced) and renamed into place, so an interrupted run never leaves a half-written
    file at O(path). Temporaries left by an interrupted run are removed by the next run.
  - Before writing anything it refuses a filesystem that cannot hold swap (tmpfs, overlay,
    nfs, cifs, squashfs, ramfs, zfs, fuse, ...; found from C(/proc/self/mountinfo)),
    a O(path) that is a directory, device, symlink or a file without a swap signature,
    a O(size) below the 10 pages C(mkswap) needs, and too little free space.
  - "Free space: writing a file of O(size) bytes needs O(size) plus a margin of 64 MiB
    available (as C(df) shows it to unprivileged users). When resizing, the old file stays
    until the new one is complete, so its space does not count."
  - An existing file of the right size with a C(SWAPSPACE2) signature is left alone. A file
    of another size is rebuilt; if it is active, only this file is swapped off (never
    C(swapoff -a)), and the module refuses when the swap this file has in use (from
    C(/proc/swaps)) is more than MemAvailable, rather than risk the OOM killer.
  - Only the C(/etc/fstab) line whose first field is O(path) is managed; every other line
    is kept byte for byte. The file is replaced atomically.
  - Runs are serialised with locks on the swap file's directory and on the directory of
    C(/etc/fstab), which the runs for every swap file share.
author:
  - lowmem.hardening maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - lowmem.hardening.host
  - lowmem.hardening.host.backup
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the C(/etc/fstab) change, and the file's size, mode and activation before and after.
  platform:
    platforms: posix
    details: Linux only.
options:
  path:
    description:
      - Absolute path of the swap file. Its directory must exist.
    type: path
    default: /swapfile
  size:
    description:
      - Size of the swap file. Required when O(state=present).
      - Bytes as an integer (V(4096)), or a string with an optional binary unit
        C(K), C(M), C(G) or C(T), optionally followed by C(iB) or C(B)
        (V(512M), V(1G), V(1.5GiB), V(1024K)); all units are powers of 1024.
        The result must be a whole number of bytes.
      - V(auto) computes the size on the host from C(MemTotal) in C(/proc/meminfo),
        so no fact gathering is needed. The rule is twice the RAM when the RAM is at
        most 2 GiB, otherwise the RAM; at most 8 GiB; at most half of the space available
        for the swap file on its filesystem (the free space plus the size of the existing
        file at O(path), so the result stays the same on the next run); rounded down to a
        whole MiB.
    type: raw
  state:
    description:
      - V(present) makes sure the swap file exists with O(size).
      - V(absent) swaps the file off (if active), removes its C(/etc/fstab) line and deletes
        it. It refuses to delete a file at O(path) that has no swap signature.
    type: str
    choices: [present, absent]
    default: present
  priority:
    description:
      - Swap priority, from V(-1) to V(32767); V(-1) asks for the kernel's default.
      - Written to C(/etc/fstab) as C(pri=N) and used for C(swapon). When the file is active
        with another priority it is swapped off and on again.
      - When omitted, an active swap file keeps the priority it runs with, and the C(/etc/fstab) line is
        written without C(pri=), so the kernel's default applies from the next boot (a C(pri=) written
        before is removed).
    type: int
  fstab:
    description:
      - V(true) keeps one line C(PATH none swap sw[,pri=N] 0 0) in C(/etc/fstab), so the swap
        file is used after a reboot.
      - V(false) removes the line for O(path), if any.
    type: bool
    default: true
  active:
    description:
      - V(true) swaps the file on now (C(swapon) of this file only).
      - V(false) swaps it off now if it is active (this file only). Use V(false) where
        C(swapon) is not permitted, for example in containers.
    type: bool
    default: true
  method:
    description:
      - How the file's space is allocated.
      - V(fallocate) preallocates it (C(posix_fallocate)), fast.
      - V(dd) writes zeros, slow but accepted by every filesystem that can hold swap.
      - V(auto) uses V(fallocate) on ext4 and xfs and V(dd) elsewhere.
      - On btrfs the empty file is first marked No_COW (C(chattr +C)), whatever the method.
    type: str
    choices: [auto, fallocate, dd]
    default: auto
notes:
  - Needs C(mkswap) when a file is written, C(swapon)/C(swapoff) when activation changes,
    and C(chattr) on btrfs.
  - Where C(swapon) is refused (C(EPERM)/C(EINVAL), as in unprivileged containers or on an
    overlay root), the run fails after undoing what it did (a file it just created is removed
    again, C(/etc/fstab) is left as it was); run with O(active=false) there.
seealso:
  - name: swapon(8)
    description: Enable devices and files for paging and swapping.
    link: https://man7.org/linux/man-pages/man8/swapon.8.html
'''

EXAMPLES = r'''
- name: A 1 GiB swap file, active now and after reboot
  lowmem.hardening.swapfile:
    size: 1G
  become: true

- name: Size from the host's RAM, with a priority
  lowmem.hardening.swapfile:
    path: /var/swapfile
    size: auto
    priority: 10
  become: true

- name: Prepare the file in a container image, where swapon is not permitted
  lowmem.hardening.swapfile:
    size: 512M
    active: false
  become: true

- name: Remove it again
  lowmem.hardening.swapfile:
    path: /var/swapfile
    state: absent
  become: true
'''

RETURN = r'''
path:
  description: The swap file's path (normalised).
  returned: always
  type: str
  sample: /swapfile
size:
  description: Size of the swap file in bytes afterwards (predicted in check mode); V(0) when O(state=absent).
  returned: always
  type: int
  sample: 1073741824
active:
  description: Whether the file is active swap afterwards.
  returned: always
  type: bool
  sample: true
fstab:
  description: The managed C(/etc/fstab) line, or V(null) when there is none.
  returned: always
  type: str
  sample: /swapfile none swap sw,pri=10 0 0
created:
  description: Whether the file was created.
  returned: always
  type: bool
  sample: true
resized:
  description: Whether an existing file was rebuilt with another size.
  returned: always
  type: bool
  sample: false
removed:
  description: Whether the file was deleted.
  returned: always
  type: bool
  sample: false
backup_file:
  description: The copy of C(/etc/fstab) made before it was changed.
  returned: when O(backup=true) and C(/etc/fstab) changed
  type: str
  sample: /etc/fstab.12345.2026-12-04@22:30:00~
'''

import binascii
import errno
import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.plugins.module_utils.swapfile import (
    FileState,
    Host,
    MIB,
    Request,
    SwapfileError,
    directory_writers,
    fill_method,
    has_swap_signature,
    mount_for,
    parse_mountinfo,
    parse_size,
    plan,
    temp_prefix,
)

# Host locations outside path; module-level so that unit tests can point them elsewhere.
FSTAB_PATH = '/etc/fstab'
MOUNTINFO_PATH = '/proc/self/mountinfo'

ZERO_CHUNK = 4 * MIB

_KINDS = (
    (stat.S_ISDIR, 'directory'),
    (stat.S_ISLNK, 'symlink'),
    (stat.S_ISBLK, 'block device'),
    (stat.S_ISCHR, 'character device'),
    (stat.S_ISFIFO, 'fifo'),
    (stat.S_ISSOCK, 'socket'),
)


class Swapfile(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.path = os.path.normpath(self.params['path'])
        self.b_path = to_bytes(self.path, errors='surrogate_or_strict')
        self.b_directory, self.b_basename = os.path.split(self.b_path)
        self.b_prefix = to_bytes(temp_prefix(to_text(self.b_basename, errors='surrogate_or_strict')),
                                 errors='surrogate_or_strict')

    # ---- checks -------------------------------------------------------------

    def read_request(self):
        raw = self.params['path']
        if not os.path.isabs(raw) or '\n' in raw or '\0' in raw or self.path == '/':
            self.module.fail_json(msg='path: %r must be an absolute path to a file (no newline)' % raw)
        size = None
        if self.params['size'] is not None:
            try:
                size = parse_size(self.params['size'])
            except SwapfileError as exc:
                self.module.fail_json(msg=to_native(exc))
        priority = self.params['priority']
        if priority is not None and not -1 <= priority <= 32767:
            self.module.fail_json(msg='priority: %d is out of range; use -1 to 32767' % priority)
        return Request(self.path, self.params['state'], size, priority, self.params['fstab'], self.params['active'])

    # ---- reading the host ---------------------------------------------------

    def read_file_state(self, page_size):
        try:
            st = os.lstat(self.b_path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return FileState('missing', 0, False, None, None)
            raise
        if not stat.S_ISREG(st.st_mode):
            kind = [name for test, name in _KINDS if test(st.st_mode)]
            return FileState(kind[0] if kind else 'special file', 0, False, None, None)
        fd = os.open(self.b_path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            header = os.read(fd, page_size)
        finally:
            os.close(fd)
        return FileState('file', st.st_size, has_swap_signature(header, page_size),
                         stat.S_IMODE(st.st_mode), st.st_uid)

    def read_directory(self):
        """(free bytes, stale temporaries, mount, writers, resolved path) of the swap file's directory."""
        st_dir = os.stat(self.b_directory)
        vfs = os.statvfs(self.b_directory)
        free = vfs.f_bavail * vfs.f_frsize
        stale = []
        for b_name in sorted(os.listdir(self.b_directory)):
            b_full = os.path.join(self.b_directory, b_name)
            st = os.lstat(b_full) if b_name.startswith(self.b_prefix) else None
            if st is not None and stat.S_ISREG(st.st_mode):
                stale.append(b_full)
                free += st.st_blocks * 512  # space it gives back once removed
        b_real_directory = os.path.realpath(self.b_directory)
        mount = mount_for(parse_mountinfo(host.read_bytes(MOUNTINFO_PATH)), b_real_directory)
        writers = directory_writers(stat.S_IMODE(st_dir.st_mode), st_dir.st_uid)
        return free, stale, mount, writers, os.path.join(b_real_directory, self.b_basename)

    def read_host(self):
        page_size = os.sysconf('SC_PAGE_SIZE')
        meminfo = host.read_meminfo()
        directory_exists = os.path.isdir(self.b_directory)
        free, stale, mount, writers, b_real = 0, [], None, '', self.b_path
        if directory_exists:
            free, stale, mount, writers, b_real = self.read_directory()
        swaps = dict((area.path, area) for area in host.read_swaps())
        return Host(
            page_size=page_size,
            mem_total=meminfo.get('MemTotal', 0),
            mem_available=host.memory_available(meminfo),
            free=free,
            directory_exists=directory_exists,
            directory_writers=writers,
            mount=mount,
            file=self.read_file_state(page_size),
            swap=swaps.get(b_real) or swaps.get(self.b_path),
            fstab=host.read_bytes(FSTAB_PATH),
            stale=stale,
        )

    # ---- applying -----------------------------------------------------------

    def write_temporary(self, changes, size, current, tools):
        """Build a complete swap file under a temporary name (0600 root from its creation); return the name."""
        how, nocow = fill_method(self.params['method'], current.mount.fstype if current.mount else '')
        fd, b_name = host.temporary(self.b_directory, self.b_basename)
        changes.did(lambda: host.remove_quietly(b_name))
        try:
            if nocow:
                host.checked_command(self.module, [tools['chattr'], '+C', b_name])
            if how == 'fallocate':
                os.posix_fallocate(fd, 0, size)
            else:
                zeros = memoryview(bytearray(ZERO_CHUNK))
                left = size
                while left:
                    left -= os.write(fd, zeros[:min(left, ZERO_CHUNK)])
            os.fsync(fd)
        finally:
            os.close(fd)
        host.checked_command(self.module, [tools['mkswap'], b_name])
        fd = os.open(b_name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return b_name

    def link_aside(self):
        """A hard link to the current file under a fresh temporary name: the old file stays until the new is on."""
        while True:
            b_name = self.b_prefix + binascii.hexlify(os.urandom(8))
            try:
                os.link(self.b_path, os.path.join(self.b_directory, b_name))
                return os.path.join(self.b_directory, b_name)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise

    def swapon(self, tools, priority):
        argv = [tools['swapon']]
        if priority is not None and priority >= 0:
            argv += ['-p', str(priority)]
        try:
            host.checked_command(self.module, argv + [self.b_path])
        except host.StepFailed as exc:
            if 'Operation not permitted' not in str(exc) and 'Invalid argument' not in str(exc):
                raise
            raise host.StepFailed('%s. The kernel refused to swap on %s (containers need privileges and a file on '
                                  'a real filesystem). Set active: false to manage the file without activating it'
                                  % (exc, self.path))

    def swapoff(self, tools):
        host.checked_command(self.module, [tools['swapoff'], self.b_path])

    def put_file_in_place(self, changes, b_temporary, current):
        if current.file.kind == 'file':
            backup = self.link_aside()
            changes.did(lambda: os.rename(backup, self.b_path))
        else:
            backup = None
            changes.did(lambda: host.remove_quietly(self.b_path))
        os.rename(b_temporary, self.b_path)
        host.fsync_directory(self.b_directory)
        return backup

    def apply(self, changes, the_plan, current, tools):
        """Make the plan true; return (the old file's hard link to remove at the end or None, fstab backup)."""
        for b_name in the_plan.remove_stale:
            host.remove_quietly(b_name)
        aside = None
        b_temporary = None
        if the_plan.write_size is not None:
            b_temporary = self.write_temporary(changes, the_plan.write_size, current, tools)
        if the_plan.fix_mode:
            os.lchown(self.b_path, 0, -1)
            os.chmod(self.b_path, 0o600)
            changes.did(lambda: (os.lchown(self.b_path, current.file.uid, -1), os.chmod(self.b_path, current.file.mode)))
        if the_plan.swapoff:
            self.swapoff(tools)
            changes.did(lambda: self.swapon(tools, current.swap.priority))
        if b_temporary is not None:
            aside = self.put_file_in_place(changes, b_temporary, current)
        if the_plan.swapon:
            self.swapon(tools, self.params['priority'])
            changes.did(lambda: self.swapoff(tools))
        fstab_backup = None
        if the_plan.fstab_after != current.fstab:
            fstab_backup = changes.write_file(FSTAB_PATH, the_plan.fstab_after, backup=self.params['backup'])
        if the_plan.remove:
            os.unlink(self.b_path)
            host.fsync_directory(self.b_directory)
        return aside, fstab_backup

    # ---- reporting ----------------------------------------------------------

    def diff(self, the_plan, current):
        def describe(exists, size, mode, active, stale):
            lines = ['leftover temporary: %s' % to_text(name, errors='surrogate_or_replace') for name in stale]
            if exists:
                lines += ['size: %d' % size, 'mode: %04o' % mode, 'active: %s' % ('true' if active else 'false')]
            return ''.join(line + '\n' for line in lines)

        state = current.file
        exists_after = state.kind == 'file' and not the_plan.remove or the_plan.write_size is not None
        return [
            {
                'before_header': self.path, 'after_header': self.path,
                'before': describe(state.kind == 'file', state.size, state.mode, current.swap is not None, current.stale),
                'after': describe(exists_after, the_plan.size, 0o600, the_plan.active, []),
            },
            {
                'before_header': FSTAB_PATH, 'after_header': FSTAB_PATH,
                'before': to_text(current.fstab, errors='surrogate_or_replace'),
                'after': to_text(the_plan.fstab_after, errors='surrogate_or_replace'),
            },
        ]

    def tools_for(self, the_plan, current):
        needed = []
        if the_plan.write_size is not None:
            needed.append('mkswap')
            if fill_method(self.params['method'], current.mount.fstype if current.mount else '')[1]:
                needed.append('chattr')
        if the_plan.swapon or the_plan.swapoff:
            needed += ['swapon', 'swapoff']  # undoing one needs the other
        return dict((name, self.module.get_bin_path(name, required=True)) for name in needed)

    def run(self):
        host.require_root(self.module, 'manage swap files and %s' % FSTAB_PATH)
        request = self.read_request()
        with host.locked(self.b_directory, os.path.dirname(FSTAB_PATH)):
            current = self.read_host()
            try:
                the_plan = plan(request, current)
            except SwapfileError as exc:
                self.module.fail_json(msg=to_native(exc))
            tools = self.tools_for(the_plan, current)
            result = dict(
                changed=the_plan.changed, path=self.path, size=the_plan.size, active=the_plan.active,
                fstab=the_plan.fstab_line, created=the_plan.created, resized=the_plan.resized,
                removed=the_plan.removed,
            )
            if self.module._diff:
                result['diff'] = self.diff(the_plan, current)
            if self.module.check_mode or not the_plan.changed:
                self.module.exit_json(**result)
            seen = dict(result, changed=False, size=current.file.size, active=current.swap is not None,
                        created=False, resized=False, removed=False)
            with host.Changes(self.module, seen) as changes:
                aside, fstab_backup = self.apply(changes, the_plan, current, tools)
            if aside is not None:
                try:
                    host.remove_quietly(aside)
                except OSError as exc:
                    self.module.warn('could not remove the old file %s (the next run removes it): %s'
                                     % (to_text(aside, errors='surrogate_or_replace'), to_native(exc)))
            if fstab_backup:
                result['backup_file'] = fstab_backup
            self.module.exit_json(**result)


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default='/swapfile'),
            size=dict(type='raw'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            priority=dict(type='int'),
            fstab=dict(type='bool', default=True),
            active=dict(type='bool', default=True),
            method=dict(type='str', choices=['auto', 'fallocate', 'dd'], default='auto'),
            backup=dict(type='bool', default=False),
        ),
        required_if=[('state', 'present', ['size'])],
        supports_check_mode=True,
    )


def main():
    Swapfile(build_module()).run()


if __name__ == '__main__':
    main()
