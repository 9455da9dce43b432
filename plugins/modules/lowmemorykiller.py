#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: lowmemorykiller
short_description: Set Android's lowmemorykiller thresholds exactly, persistently and safely
version_added: 0.1.0
description:
  - Manages the parameters of the C(lowmemorykiller) driver found on Android and vendor kernels, ARM boards
    on BSP kernels and Ubuntu 13.x kernels, in C(/sys/module/lowmemorykiller/parameters).
  - The driver kills processes when free memory falls below the I(minfree) thresholds, long before swap is
    used. The usual fix is O(state=disabled).
  - Idempotent against what the kernel shows, not the text written, including Android's oom_adj
    autodetection (C(0,1,6,12) written to adj reads back C(0,58,352,705)).
  - Every value is validated before anything is written. Every parameter is snapshotted first; a write
    that fails (EINVAL, EPERM, EROFS) or reads back wrong restores the snapshot and fails, leaving the host
    as it was.
  - The driver is always built in, so C(/etc/modprobe.d) cannot set it. O(persist) writes the runtime values
    again at boot.
  - The values first seen on a host are saved once in C(/var/lib/lowmem-hardening/lowmemorykiller.json)
    (mode 0600), so O(state=restored) can undo everything.
  - Warns when Android's C(lmkd) is running, because it rewrites these values itself.
  - Concurrent runs on one host wait for each other (an flock on O(path)).
author:
  - lowmem.hardening maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Predicts C(changed) exactly and writes nothing.
  diff_mode:
    support: full
    description: Shows each parameter and each boot-time file before and after.
  platform:
    support: full
    platforms: posix
    description: Linux kernels with the lowmemorykiller driver; others report O(missing).
notes:
  - Needs root (C(become=true)).
  - Target Python 3.6 or newer.
  - "O(state=disabled) writes exactly C(adj=9999) and C(minfree=1): 9999 is above any oom_score_adj (at most
    1000) and any oom_adj (at most 15), so no process is ever a candidate, on every kernel version."
  - When only one of O(adj) and O(minfree) is given, the other keeps its current values and the driver uses
    the first min(len(adj), len(minfree)) pairs; a warning names the entries that are then ignored.
  - On a kernel with oom_adj autodetection the value shown after writing O(adj) is accepted in either form.
    The module learns on its first write whether this kernel converts and compares exactly from then on.
options:
  minfree:
    description:
      - Up to O(max_entries) free-memory thresholds, strictly ascending.
      - Each is an integer number of pages, a size with a binary unit (V(512K), V(64M), V(64MiB), V(1G)), rounded
        up to whole pages of the host's page size, or a percentage of MemTotal (V(12.5%)), above 0 and at most 100.
      - A single value is a one-entry table (C(-a minfree=1)).
    type: list
    elements: raw
  adj:
    description:
      - Up to O(max_entries) oom_score_adj values, strictly ascending, from -1000 to 32767.
      - Processes with oom_score_adj at or above C(adj[i]) are candidates when free memory is below
        C(minfree[i]).
      - On Android kernels with autodetection, values whose last entry is 1 to 15 are taken as oom_adj and
        converted by the kernel.
    type: list
    elements: int
  cost:
    description: The shrinker's seek cost (C(cost) parameter), 1 or more.
    type: int
  debug_level:
    description: The driver's log level (C(debug_level) parameter), 0 or more.
    type: int
  extra_params:
    description:
      - Other (vendor) parameters in O(path), name to value, for example C(enable_adaptive_lmk).
      - A value is an integer, a list of integers (written comma-joined) or a boolean (for C(Y)/C(N)
        parameters). A name with no file in O(path) is an error.
    type: dict
  state:
    description:
      - V(present) sets the values given.
      - V(disabled) writes C(adj=9999) and C(minfree=1), under which no process can be selected.
      - V(restored) writes back the values saved before this module first changed this host, removes its
        boot-time files and forgets the saved values.
    type: str
    choices: [present, disabled, restored]
    default: present
  persist:
    description:
      - How the runtime values come back after a reboot. The boot-time file holds adj and minfree and every
        other parameter this module has set, as the kernel shows them, and refers to O(path).
      - V(auto) picks V(tmpfiles) on systemd hosts, V(openrc) on OpenRC when its C(local) service starts at
        boot (it exists and is in the C(sysinit), C(boot) or C(default) runlevel; Debian's openrc has none),
        V(cron) where a cron daemon runs, and fails when there is none. V(openrc) where C(local) does not
        start at boot warns that the file will not run.
      - V(tmpfiles) writes C(/etc/tmpfiles.d/lowmemorykiller.conf), V(sysfsutils) C(/etc/sysfs.d/lowmemorykiller.conf),
        V(openrc) C(/etc/local.d/lowmemorykiller.start) (0755), V(cron) C(/etc/cron.d/lowmemorykiller)
        (C(@reboot) lines). All are root-owned, 0644 unless said, and written atomically; choosing one removes
        the others' files.
      - V(none) changes only the runtime values and leaves boot-time files as they are.
    type: str
    choices: [auto, tmpfiles, sysfsutils, openrc, cron, none]
    default: auto
  path:
    description: The driver's parameters directory. Change it for tests and unusual kernels.
    type: path
    default: /sys/module/lowmemorykiller/parameters
  missing:
    description:
      - What to do when O(path) does not exist (every kernel without the driver).
      - V(skip) returns C(changed=false) and C(present=false) with one line saying so; V(fail) fails.
    type: str
    choices: [skip, fail]
    default: skip
  max_entries:
    description: How many entries the kernel's adj and minfree arrays hold. 6 on mainline; some vendor kernels
      hold more.
    type: int
    default: 6
'''

EXAMPLES = r'''
- name: Stop lowmemorykiller from killing jobs long before swap is used (the 2014 fix, made to last)
  lowmem.hardening.lowmemorykiller:
    state: disabled

- name: Keep the driver but with thresholds in MiB and % of RAM
  lowmem.hardening.lowmemorykiller:
    minfree: [4M, 8M, 1%, 2%]
    adj: [0, 100, 200, 900]
    persist: tmpfiles

- name: Vendor kernel with a bigger table and extra switches
  lowmem.hardening.lowmemorykiller:
    minfree: [1536, 2048, 4096, 8192, 12288, 16384, 20480, 24576]
    adj: [0, 100, 200, 300, 600, 800, 900, 1000]
    max_entries: 8
    extra_params:
      enable_adaptive_lmk: 0

- name: Put back what the host had before this module changed it
  lowmem.hardening.lowmemorykiller:
    state: restored

# Ad hoc: ansible all -m lowmem.hardening.lowmemorykiller -a minfree=1 --become
'''

RETURN = r'''
present:
  description: Whether the driver exists (O(path) is a directory).
  returned: always
  type: bool
  sample: true
before:
  description: Every parameter as the kernel showed it before the run; arrays as lists.
  returned: always
  type: dict
  sample: {adj: [0, 1, 6, 12], minfree: [1536, 2048, 4096, 16384], cost: 32, debug_level: 1}
after:
  description: Every parameter as the kernel shows it after the run (predicted in check mode).
  returned: always
  type: dict
  sample: {adj: [9999], minfree: [1], cost: 32, debug_level: 1}
thresholds:
  description: The effective table after the run, the first min(len(adj), len(minfree)) pairs.
  returned: always
  type: list
  elements: dict
  contains:
    minfree_pages:
      description: The threshold in pages.
      type: int
    minfree_bytes:
      description: The threshold in bytes.
      type: int
    minfree_percent:
      description: The threshold in % of MemTotal to three significant digits, or null when MemTotal is unknown.
      type: float
    adj:
      description: The lowest oom_score_adj that is a candidate below this threshold.
      type: int
  sample: [{minfree_pages: 1, minfree_bytes: 4096, minfree_percent: 0.0, adj: 9999}]
disabled:
  description: Whether no process can be selected after the run (every used adj above 1000, or no table).
  returned: always
  type: bool
  sample: true
persist:
  description: The boot-time mechanism holding the values and its file; nulls when none is managed.
  returned: always
  type: dict
  contains:
    method:
      description: V(tmpfiles), V(sysfsutils), V(openrc), V(cron), or null.
      type: str
    file:
      description: The boot-time file, or null.
      type: str
  sample: {method: tmpfiles, file: /etc/tmpfiles.d/lowmemorykiller.conf}
page_size:
  description: The host's page size in bytes.
  returned: always
  type: int
  sample: 4096
mem_total_bytes:
  description: MemTotal in bytes, or null when /proc/meminfo cannot be read.
  returned: always
  type: int
  sample: 536870912
'''

import errno
import fcntl
import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.lowmem.hardening.plugins.module_utils import lowmemorykiller as lmk

STATE_FILE = '/var/lib/lowmem-hardening/lowmemorykiller.json'
MEMINFO = '/proc/meminfo'
PROC = '/proc'
SYSTEMD_RUN_DIR = '/run/systemd/system'
OPENRC_RUN_DIR = '/run/openrc'
SYSFSUTILS_DIR = '/etc/sysfs.d'
OPENRC_LOCAL_DIR = '/etc/local.d'
# /etc/local.d runs only where OpenRC's `local` service exists and is in a runlevel started at boot.
# Alpine ships it in no runlevel (`rc-update add local default`); Debian's openrc does not ship it at
# all (a dangling `nonetwork/local` link; Debian has rc.local instead).
OPENRC_BOOT_RUNLEVELS = ('/etc/runlevels/sysinit', '/etc/runlevels/boot', '/etc/runlevels/default')


def sysfs_write(path, data):
    """One write(2), as the kernel expects; O_TRUNC keeps plain-file stand-ins exact too."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class WriteFailed(Exception):
    """A parameter write failed or read back wrong."""


class LowMemoryKiller(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.path = None
        self.persisted = []
        self.undo = []
        self.lock_fd = None

    # -- reading -----------------------------------------------------------

    def read_texts(self):
        texts = {}
        for name in sorted(os.listdir(self.path)):
            full = os.path.join(self.path, name)
            if not os.path.isfile(full):
                continue
            try:
                with open(full, 'rb') as f:
                    texts[name] = to_text(f.read(), errors='surrogate_or_strict')
            except (IOError, OSError):
                continue  # write-only or unreadable vendor parameter
        return texts

    def read_param(self, name):
        with open(os.path.join(self.path, name), 'rb') as f:
            text = to_text(f.read(), errors='surrogate_or_strict')
        return lmk.parse_params({name: text})[name]

    @staticmethod
    def mem_total_bytes():
        try:
            with open(MEMINFO) as f:
                return lmk.parse_meminfo(f.read()).get('MemTotal')
        except (IOError, OSError):
            return None

    @staticmethod
    def lmkd_running():
        try:
            pids = [p for p in os.listdir(PROC) if p.isdigit()]
        except OSError:
            return False
        for pid in pids:
            try:
                with open(os.path.join(PROC, pid, 'comm')) as f:
                    if f.read().strip() == 'lmkd':
                        return True
            except (IOError, OSError):
                continue
        return False

    def available_persist_methods(self):
        found = set()
        if os.path.isdir(SYSTEMD_RUN_DIR) and self.module.get_bin_path('systemd-tmpfiles'):
            found.add('tmpfiles')
        if os.path.isdir(OPENRC_RUN_DIR) or os.path.isdir(OPENRC_LOCAL_DIR):
            found.add('openrc')
            if any(os.path.exists(os.path.join(runlevel, 'local')) for runlevel in OPENRC_BOOT_RUNLEVELS):
                found.add('openrc-local-at-boot')
        if os.path.isdir(SYSFSUTILS_DIR):
            found.add('sysfsutils')
        if self.module.get_bin_path('cron') or self.module.get_bin_path('crond'):
            found.add('cron')
        return found

    def lock(self):
        """Serialise runs on this host: hold an flock on the parameters directory until exit.

        Locking the directory itself creates no file, so a refused run still writes nothing.
        """
        self.lock_fd = os.open(self.path, os.O_RDONLY)
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)

    def unlock(self):
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None

    # -- state file ----------------------------------------------------------

    @staticmethod
    def load_state():
        try:
            with open(STATE_FILE) as f:
                state = json.load(f)
        except (IOError, OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    # -- writing -----------------------------------------------------------

    def write_param(self, name, text):
        try:
            sysfs_write(os.path.join(self.path, name), to_bytes(text + '\n'))
        except (IOError, OSError) as exc:
            # An array can only be emptied by a write the kernel refuses: "\n" fails with EINVAL and
            # leaves zero entries, which is what was asked (a 0-byte write changes nothing).
            if text or exc.errno != errno.EINVAL or self.read_param(name) != []:
                raise

    def apply_writes(self, writes, snapshot, autodetect):
        """Write each parameter and verify what the kernel shows; roll back on any failure."""
        observed = autodetect
        for name, value in writes:
            text = lmk.format_value(value)
            self.undo.append(lambda name=name: self.write_param(name, snapshot[name].strip()))
            try:
                self.write_param(name, text)
            except (IOError, OSError) as exc:
                code = errno.errorcode.get(exc.errno, str(exc.errno))
                hint = ' (read-only file system)' if exc.errno == errno.EROFS else ''
                raise WriteFailed('%s: writing %s failed with %s: %s%s'
                                  % (self._option(name), text, code, exc.strerror, hint))
            shown = self.read_param(name)
            if name == 'adj':
                seen = lmk.observe_autodetect(value, shown)
                observed = seen if seen is not None else observed
            if shown not in lmk.expected_readbacks(name, value, observed):
                raise WriteFailed('%s: wrote %s but the kernel shows %s'
                                  % (self._option(name), text, lmk.format_value(shown)))
        return observed

    def write_file(self, dest, content, mode):
        """Write dest atomically, root-owned, remembering how to undo it."""
        b_dest = to_bytes(dest)
        old = None
        if os.path.exists(b_dest):
            with open(b_dest, 'rb') as f:
                old = f.read()
        directory = os.path.dirname(dest)
        self.makedirs(directory, 0o755)
        self.undo.append(lambda: self._restore_file(dest, old, mode))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(dest))
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(to_bytes(content))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            self.module.atomic_move(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        os.chown(b_dest, 0, 0)
        os.chmod(b_dest, mode)

    def makedirs(self, directory, mode):
        """Create missing directories, remembering to remove them on rollback."""
        if os.path.isdir(directory):
            return
        self.makedirs(os.path.dirname(directory), mode)
        os.mkdir(directory, mode)
        self.undo.append(lambda: os.rmdir(directory))

    def remove_file(self, dest):
        with open(dest, 'rb') as f:
            old = f.read()
        mode = os.stat(dest).st_mode & 0o7777
        os.unlink(dest)
        self.undo.append(lambda: self._restore_file(dest, old, mode))

    def _restore_file(self, dest, old, mode):
        if old is None:
            if os.path.exists(dest):
                os.unlink(dest)
            return
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix='.%s.' % os.path.basename(dest))
        with os.fdopen(fd, 'wb') as f:
            f.write(old)
        os.chmod(tmp, mode)
        os.rename(tmp, dest)

    def rollback(self):
        """Undo in reverse order; return what could not be undone."""
        problems = []
        while self.undo:
            action = self.undo.pop()
            try:
                action()
            except Exception as exc:  # keep undoing the rest
                problems.append(to_native(exc))
        return problems

    @staticmethod
    def _option(name):
        return name if name in lmk.NAMED_PARAMS else 'extra_params.%s' % name

    # -- the job -----------------------------------------------------------

    def run(self):
        p = self.params
        if os.geteuid() != 0:
            self.module.fail_json(msg='lowmem.hardening.lowmemorykiller must run as root to write %s and /etc: '
                                      'use become: true' % p['path'])
        page_size = os.sysconf('SC_PAGE_SIZE')
        mem_total = self.mem_total_bytes()
        result = dict(changed=False, present=False, before={}, after={}, thresholds=[], disabled=False,
                      persist=dict(method=None, file=None), page_size=page_size, mem_total_bytes=mem_total)
        try:
            if p['max_entries'] < 1:
                raise lmk.ParamError('max_entries: %d must be 1 or more' % p['max_entries'])
            self.path = lmk.check_path(p['path'])
            desired = lmk.normalise_request(
                p['state'], page_size, mem_total, adj=p['adj'], minfree=p['minfree'], cost=p['cost'],
                debug_level=p['debug_level'], extra_params=p['extra_params'], max_entries=p['max_entries'])
        except lmk.ParamError as exc:
            self.module.fail_json(msg=to_native(exc), **result)

        if not os.path.isdir(self.path):
            if p['missing'] == 'fail':
                self.module.fail_json(msg='path: %s does not exist: this kernel has no lowmemorykiller driver '
                                          '(missing=fail)' % self.path, **result)
            self.module.exit_json(msg='This kernel has no lowmemorykiller (%s does not exist); nothing to do.'
                                      % self.path, **result)

        self.lock()
        texts = self.read_texts()
        current = lmk.parse_params(texts)
        state = self.load_state()
        entry = dict(state.get('paths', {}).get(self.path) or {})
        autodetect = entry.get('adj_autodetect')

        try:
            if p['state'] == 'restored':
                original = lmk.parse_params(entry.get('original') or {})
                desired = dict((k, v) for k, v in original.items() if k in current)
            writes = lmk.plan_writes(desired, current, autodetect)
            method, files = self.plan_persistence(desired, entry, lmk.predict_after(current, writes, autodetect))
        except lmk.ParamError as exc:
            self.module.fail_json(msg=to_native(exc), **result)

        after = lmk.predict_after(current, writes, autodetect)
        file_changes = self.file_changes(files)
        changed = bool(writes or file_changes)

        warning = lmk.ignored_entries_warning(desired, after) if p['state'] == 'present' else None
        if warning:
            self.module.warn(warning)
        if self.lmkd_running():
            self.module.warn("Android's lmkd is running: it rewrites minfree and adj itself and will overwrite "
                             "these values.")

        if changed and not self.module.check_mode:
            after = self.apply(desired, writes, texts, file_changes, state, entry, method, autodetect)

        result.update(
            changed=changed, present=True, before=current, after=after,
            thresholds=lmk.effective_table(after, page_size, mem_total),
            disabled=lmk.is_disabled(after),
            persist=dict(method=method, file=lmk.PERSIST_FILES[method] if method else None),
            msg=self.summary(writes, file_changes),
        )
        if self.module._diff:
            result['diff'] = self.diff(current, after, file_changes)
        self.module.exit_json(**result)

    def plan_persistence(self, desired, entry, after):
        """(method, {file: (content or None to remove, mode)}) for this run."""
        requested = self.params['persist']
        if self.params['state'] == 'restored':
            return None, dict((f, (None, 0)) for f in lmk.PERSIST_FILES.values())
        if requested == 'none':
            return None, {}
        available = self.available_persist_methods()
        method = lmk.choose_persist_method(requested, 'tmpfiles' in available, 'openrc-local-at-boot' in available,
                                           'cron' in available)
        if method not in available:
            raise lmk.ParamError('persist: %s is not available on this host (found: %s)'
                                 % (method, ', '.join(sorted(available - set(['openrc-local-at-boot']))) or 'none'))
        if method == 'openrc' and 'openrc-local-at-boot' not in available:
            self.module.warn("persist=openrc: OpenRC's local service (/etc/init.d/local) is missing or in no "
                             "runlevel started at boot (sysinit, boot, default), so %s will not run at boot; "
                             "where OpenRC ships it, `rc-update add local default` enables it"
                             % lmk.PERSIST_FILES['openrc'])
        self.persisted = lmk.persisted_names(desired, entry.get('persisted'), after)
        content = lmk.render_persistence(method, self.path, dict((n, after[n]) for n in self.persisted))
        files = dict((f, (None, 0)) for m, f in lmk.PERSIST_FILES.items() if m != method)
        files[lmk.PERSIST_FILES[method]] = (content, lmk.PERSIST_MODES[method])
        return method, files

    def file_changes(self, files):
        """[(file, old content or None, new content or None, mode)] for files that differ.

        A file with the right content but another mode or owner differs too: it runs as root at boot.
        A boot file is removed only when it was written for this path.
        """
        changes = []
        for dest, (content, mode) in sorted(files.items()):
            old = None
            if os.path.exists(dest):
                with open(dest, 'rb') as f:
                    old = to_text(f.read(), errors='surrogate_or_strict')
            if content is None and old is not None and lmk.boot_file_header(self.path) not in old:
                continue
            if old != content or (content is not None and not self.root_owned_with_mode(dest, mode)):
                changes.append((dest, old, content, mode))
        return changes

    @staticmethod
    def root_owned_with_mode(dest, mode):
        st = os.stat(dest)
        return st.st_uid == 0 and st.st_gid == 0 and st.st_mode & 0o7777 == mode

    def apply(self, desired, writes, texts, file_changes, state, entry, method, autodetect):
        state_before = json.dumps(state, sort_keys=True) if os.path.exists(STATE_FILE) else None
        entry.setdefault('original', texts)
        paths = state.setdefault('paths', {})
        try:
            if self.params['state'] != 'restored':
                paths[self.path] = entry
                self.save_state(state, state_before)
            observed = self.apply_writes(writes, texts, autodetect)
            if method:
                # The boot file holds what the kernel now shows (an Android kernel may have converted adj).
                shown = lmk.parse_params(self.read_texts())
                file_changes = self.file_changes(self.plan_persistence(desired, entry, shown)[1])
            for dest, old, content, mode in file_changes:
                if content is None:
                    self.remove_file(dest)
                else:
                    self.write_file(dest, content, mode)
            if self.params['state'] != 'restored':
                entry['adj_autodetect'] = observed
                if method:
                    entry['persisted'] = self.persisted
            else:
                # Forgotten only now that they are back: a run killed before this can be repeated.
                paths.pop(self.path, None)
            self._write_state(state)
        except BaseException as exc:
            problems = self.rollback()
            if not isinstance(exc, (WriteFailed, IOError, OSError)):
                raise
            shown = self.read_texts()
            problems += ['%s shows %s, was %s' % (name, shown.get(name, '').strip(), text.strip())
                         for name, text in sorted(texts.items()) if shown.get(name) != text]
            tail = ('Every parameter and file was restored to its state before this run.' if not problems
                    else 'Rollback was incomplete: %s.' % '; '.join(problems))
            self.module.fail_json(msg='%s. %s' % (to_native(exc), tail), before=lmk.parse_params(texts),
                                  after=lmk.parse_params(shown))
        return lmk.parse_params(self.read_texts())

    def save_state(self, state, state_before):
        """Save the state file now, so an interrupted run can still be restored."""
        self.makedirs(os.path.dirname(STATE_FILE), 0o700)
        if state_before is None:
            self.undo.append(lambda: os.unlink(STATE_FILE) if os.path.exists(STATE_FILE) else None)
        else:
            self.undo.append(lambda: self._write_state(json.loads(state_before)))
        self._write_state(state)

    def _write_state(self, state):
        directory = os.path.dirname(STATE_FILE)
        if not state.get('paths'):
            if os.path.exists(STATE_FILE):
                os.unlink(STATE_FILE)
            try:
                os.rmdir(directory)  # ours by name; kept if anything else is in it
            except OSError:
                pass
            return
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.lowmemorykiller.')
        with os.fdopen(fd, 'w') as f:
            json.dump(state, f, indent=2, sort_keys=True)
        os.chmod(tmp, 0o600)
        # atomic_move gives a new file 0666 & ~umask: keep the state file 0600 at every instant.
        umask = os.umask(0o077)
        try:
            self.module.atomic_move(tmp, STATE_FILE)
        finally:
            os.umask(umask)
        os.chmod(STATE_FILE, 0o600)

    def summary(self, writes, file_changes):
        parts = ['%s=%s' % (name, lmk.format_value(value)) for name, value in writes]
        parts += ['%s %s' % ('removed' if change[2] is None else 'wrote', change[0]) for change in file_changes]
        verb = 'Would change' if self.module.check_mode else 'Changed'
        return '%s: %s' % (verb, ', '.join(parts)) if parts else 'Already as requested.'

    def diff(self, before, after, file_changes):
        diffs = [dict(before_header=self.path, after_header=self.path,
                      before=lmk.render_params(before), after=lmk.render_params(after))]
        for dest, old, content, dummy in file_changes:
            diffs.append(dict(before_header=dest, after_header=dest, before=old or '', after=content or ''))
        return diffs


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            minfree=dict(type='list', elements='raw'),
            adj=dict(type='list', elements='int'),
            cost=dict(type='int'),
            debug_level=dict(type='int'),
            extra_params=dict(type='dict'),
            state=dict(type='str', default='present', choices=['present', 'disabled', 'restored']),
            persist=dict(type='str', default='auto',
                         choices=['auto', 'tmpfiles', 'sysfsutils', 'openrc', 'cron', 'none']),
            path=dict(type='path', default=lmk.DEFAULT_PATH),
            missing=dict(type='str', default='skip', choices=['skip', 'fail']),
            max_entries=dict(type='int', default=lmk.DEFAULT_MAX_ENTRIES),
        ),
        supports_check_mode=True,
    )


def main():
    module = build_module()
    os.umask(0o022)
    job = LowMemoryKiller(module)
    try:
        job.run()
    finally:
        job.unlock()


if __name__ == '__main__':
    main()
