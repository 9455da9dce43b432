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
  - Concurrent runs on one host wait for each other (a lock on O(path)).
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
extends_documentation_fragment:
  - lowmem.hardening.host
notes:
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
    minfree: [4M, 8M, 2%, 3%]  # ascending on hosts of 512 MiB and more
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

import collections
import errno
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.plugins.module_utils import lowmemorykiller as lmk

SYSTEMD_RUN_DIR = '/run/systemd/system'
OPENRC_RUN_DIR = '/run/openrc'
SYSFSUTILS_DIR = '/etc/sysfs.d'
OPENRC_LOCAL_DIR = '/etc/local.d'
# /etc/local.d runs only where OpenRC's `local` service exists and is in a runlevel started at boot.
# Alpine ships it in no runlevel (`rc-update add local default`); Debian's openrc does not ship it at
# all (a dangling `nonetwork/local` link; Debian has rc.local instead).
OPENRC_BOOT_RUNLEVELS = ('/etc/runlevels/sysinit', '/etc/runlevels/boot', '/etc/runlevels/default')

Request = collections.namedtuple('Request', 'state desired persist')
# boot: {boot file: host.FileCopy or None} of every persistence method's file
Host = collections.namedtuple('Host', 'path page_size mem_total texts current state entry methods lmkd_running boot')
# files: [(path, old text or None, new text or None, mode)] that differ; persisted: names in the boot file
Plan = collections.namedtuple('Plan', 'desired writes after method files persisted')


class WriteFailed(host.StepFailed):
    """A parameter write failed or read back wrong."""


# ---- reading ------------------------------------------------------------------------

def read_texts(path):
    return host.read_files(path)[0]


def read_param(path, name):
    text = to_text(host.read_bytes(os.path.join(path, name)), errors='surrogate_or_strict')
    return lmk.parse_params({name: text})[name]


def available_persist_methods(module):
    found = set()
    if os.path.isdir(SYSTEMD_RUN_DIR) and module.get_bin_path('systemd-tmpfiles'):
        found.add('tmpfiles')
    if os.path.isdir(OPENRC_RUN_DIR) or os.path.isdir(OPENRC_LOCAL_DIR):
        found.add('openrc')
        if any(os.path.exists(os.path.join(runlevel, 'local')) for runlevel in OPENRC_BOOT_RUNLEVELS):
            found.add('openrc-local-at-boot')
    if os.path.isdir(SYSFSUTILS_DIR):
        found.add('sysfsutils')
    if module.get_bin_path('cron') or module.get_bin_path('crond'):
        found.add('cron')
    return found


def read_host(module, path, page_size, mem_total):
    texts = read_texts(path)
    state = host.load_state()
    entry = dict(state.get('paths', {}).get(path) or {})
    boot = dict((dest, host.copy_of(dest)) for dest in lmk.PERSIST_FILES.values())
    return Host(path, page_size, mem_total, texts, lmk.parse_params(texts), state, entry,
                available_persist_methods(module), bool(host.find_processes(('lmkd',))), boot)


def read_request(module, current):
    p = module.params
    if p['state'] == 'restored':
        lmk.normalise_request('restored', current.page_size, current.mem_total, adj=p['adj'], minfree=p['minfree'],
                              cost=p['cost'], debug_level=p['debug_level'], extra_params=p['extra_params'])
        original = lmk.parse_params(current.entry.get('original') or {})
        return Request('restored', dict((k, v) for k, v in original.items() if k in current.current), None)
    desired = lmk.normalise_request(
        p['state'], current.page_size, current.mem_total, adj=p['adj'], minfree=p['minfree'], cost=p['cost'],
        debug_level=p['debug_level'], extra_params=p['extra_params'], max_entries=p['max_entries'])
    return Request(p['state'], desired, p['persist'])


# ---- planning -------------------------------------------------------------------------

def persist_method(module, request, current):
    """The boot-time mechanism for this run, or None; warns when OpenRC's local.d will not run."""
    if request.state == 'restored' or request.persist == 'none':
        return None
    available = current.methods
    method = lmk.choose_persist_method(request.persist, 'tmpfiles' in available, 'openrc-local-at-boot' in available,
                                       'cron' in available)
    if method not in available:
        raise lmk.ParamError('persist: %s is not available on this host (found: %s)'
                             % (method, ', '.join(sorted(available - set(['openrc-local-at-boot']))) or 'none'))
    if method == 'openrc' and 'openrc-local-at-boot' not in available:
        module.warn("persist=openrc: OpenRC's local service (/etc/init.d/local) is missing or in no "
                    "runlevel started at boot (sysinit, boot, default), so %s will not run at boot; "
                    "where OpenRC ships it, `rc-update add local default` enables it" % lmk.PERSIST_FILES['openrc'])
    return method


def boot_files(request, current, method, persisted, shown):
    """[(file, old text or None, new text or None, mode)] of the boot files that must change.

    A file with the right content but another mode or owner differs too: it runs as root at boot.
    A boot file is removed only when it was written for this path.
    """
    if request.state != 'restored' and request.persist == 'none':
        return []
    wanted = dict((f, (None, 0)) for m, f in lmk.PERSIST_FILES.items() if m != method)
    if method:
        content = lmk.render_persistence(method, current.path, dict((n, shown[n]) for n in persisted))
        wanted[lmk.PERSIST_FILES[method]] = (content, lmk.PERSIST_MODES[method])
    files = []
    for dest, (content, mode) in sorted(wanted.items()):
        old = current.boot[dest]
        old_text = to_text(old.content, errors='surrogate_or_strict') if old else None
        if content is None and old_text is not None and lmk.boot_file_header(current.path) not in old_text:
            continue
        if old_text != content or (content is not None and (old.mode, old.uid, old.gid) != (mode, 0, 0)):
            files.append((dest, old_text, content, mode))
    return files


def make_plan(module, request, current):
    autodetect = current.entry.get('adj_autodetect')
    writes = lmk.plan_writes(request.desired, current.current, autodetect)
    after = lmk.predict_after(current.current, writes, autodetect)
    method = persist_method(module, request, current)
    persisted = lmk.persisted_names(request.desired, current.entry.get('persisted'), after) if method else []
    return Plan(request.desired, writes, after, method, boot_files(request, current, method, persisted, after),
                persisted)


# ---- applying ---------------------------------------------------------------------------

def write_param(path, name, text):
    try:
        host.write_once(os.path.join(path, name), to_bytes(text + '\n'))
    except (IOError, OSError) as exc:
        # An array can only be emptied by a write the kernel refuses: "\n" fails with EINVAL and
        # leaves zero entries, which is what was asked (a 0-byte write changes nothing).
        if text or exc.errno != errno.EINVAL or read_param(path, name) != []:
            raise


def apply_writes(changes, current, writes):
    """Write each parameter and check what the kernel shows; return whether adj autodetection was seen."""
    observed = current.entry.get('adj_autodetect')
    for name, value in writes:
        text = lmk.format_value(value)
        changes.did(lambda name=name: write_param(current.path, name, current.texts[name].strip()))
        try:
            write_param(current.path, name, text)
        except (IOError, OSError) as exc:
            code = errno.errorcode.get(exc.errno, str(exc.errno))
            hint = ' (read-only file system)' if exc.errno == errno.EROFS else ''
            raise WriteFailed('%s: writing %s failed with %s: %s%s' % (lmk.option_of(name), text, code, exc.strerror, hint))
        shown = read_param(current.path, name)
        if name == 'adj':
            seen = lmk.observe_autodetect(value, shown)
            observed = seen if seen is not None else observed
        if shown not in lmk.expected_readbacks(name, value, observed):
            raise WriteFailed('%s: wrote %s but the kernel shows %s' % (lmk.option_of(name), text, lmk.format_value(shown)))
    return observed


def apply(changes, request, current, the_plan):
    """Save the first-seen values, write the kernel, then the boot files and the state; return what it shows."""
    state, entry = current.state, dict(current.entry)
    entry.setdefault('original', current.texts)
    paths = state.setdefault('paths', {})
    if request.state != 'restored':
        paths[current.path] = entry
        changes.save_state(state)  # first, so that an interrupted run can still be restored
    observed = apply_writes(changes, current, the_plan.writes)
    shown = lmk.parse_params(read_texts(current.path))
    files = the_plan.files
    if the_plan.method and shown != the_plan.after:
        # The boot file holds what the kernel shows (an Android kernel may have converted adj).
        files = boot_files(request, current, the_plan.method, the_plan.persisted, shown)
    for dest, _old, content, mode in files:
        if content is None:
            changes.remove_file(dest)
        else:
            changes.write_file(dest, content, mode=mode)
    if request.state == 'restored':
        paths.pop(current.path, None)  # forgotten only now that they are back: a killed run can be repeated
    else:
        entry['adj_autodetect'] = observed
        if the_plan.method:
            entry['persisted'] = the_plan.persisted
    changes.save_state(state)
    return shown, files


def verify_restored(current, result):
    """After an undo: what still differs from what the run saw; the result's `after` is what the kernel shows."""
    shown = read_texts(current.path)
    result['after'] = lmk.parse_params(shown)
    return ['%s shows %s, was %s' % (name, shown.get(name, '').strip(), text.strip())
            for name, text in sorted(current.texts.items()) if shown.get(name) != text]


# ---- reporting ---------------------------------------------------------------------------

def report(current, values, method, changed=False):
    """The result for the kernel showing `values`: what a failure returns too."""
    return dict(changed=changed, present=True, before=current.current, after=values,
                thresholds=lmk.effective_table(values, current.page_size, current.mem_total),
                disabled=lmk.is_disabled(values), persist=dict(method=method, file=lmk.PERSIST_FILES.get(method)),
                page_size=current.page_size, mem_total_bytes=current.mem_total)


def summary(module, writes, files):
    parts = ['%s=%s' % (name, lmk.format_value(value)) for name, value in writes]
    parts += ['%s %s' % ('removed' if change[2] is None else 'wrote', change[0]) for change in files]
    verb = 'Would change' if module.check_mode else 'Changed'
    return '%s: %s' % (verb, ', '.join(parts)) if parts else 'Already as requested.'


def diff(current, after, files):
    diffs = [dict(before_header=current.path, after_header=current.path,
                  before=lmk.render_params(current.current), after=lmk.render_params(after))]
    for dest, old, content, _mode in files:
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


def find_driver(module, page_size, mem_total):
    """The parameters directory; exits (skip) or fails (missing=fail) where the driver is absent."""
    p = module.params
    absent = dict(changed=False, present=False, before={}, after={}, thresholds=[], disabled=False,
                  persist=dict(method=None, file=None), page_size=page_size, mem_total_bytes=mem_total)
    try:
        if p['max_entries'] < 1:
            raise lmk.ParamError('max_entries: %d must be 1 or more' % p['max_entries'])
        path = lmk.check_path(p['path'])
    except lmk.ParamError as exc:
        module.fail_json(msg=to_native(exc), **absent)
    if not os.path.isdir(path):
        if p['missing'] == 'fail':
            module.fail_json(msg='path: %s does not exist: this kernel has no lowmemorykiller driver '
                                 '(missing=fail)' % path, **absent)
        module.exit_json(msg='This kernel has no lowmemorykiller (%s does not exist); nothing to do.' % path, **absent)
    return path


def run(module, current):
    result = report(current, current.current, None)
    try:
        request = read_request(module, current)
        the_plan = make_plan(module, request, current)
    except lmk.ParamError as exc:
        module.fail_json(msg=to_native(exc), **result)
    warning = lmk.ignored_entries_warning(the_plan.desired, the_plan.after) if request.state == 'present' else None
    if warning:
        module.warn(warning)
    if current.lmkd_running:
        module.warn("Android's lmkd is running: it rewrites minfree and adj itself and will overwrite these values.")
    after, files = the_plan.after, the_plan.files
    changed = bool(the_plan.writes or files)
    if changed and not module.check_mode:
        with host.Changes(module, result, undone='Every parameter and file was restored to its state before this run.',
                          incomplete='Rollback was incomplete: %s.') as changes:
            changes.verify = lambda: verify_restored(current, result)
            after, files = apply(changes, request, current, the_plan)
    result = report(current, after, the_plan.method, changed)
    result['msg'] = summary(module, the_plan.writes, files)
    if module._diff:
        result['diff'] = diff(current, after, files)
    return result


def main():
    module = build_module()
    host.require_root(module, 'write %s and /etc' % module.params['path'])
    page_size = os.sysconf('SC_PAGE_SIZE')
    mem_total = host.read_meminfo().get('MemTotal')
    path = find_driver(module, page_size, mem_total)
    with host.locked(path):
        module.exit_json(**run(module, read_host(module, path, page_size, mem_total)))


if __name__ == '__main__':
    main()
