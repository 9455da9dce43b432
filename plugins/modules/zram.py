#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: zram
short_description: Compressed swap in RAM on /dev/zram0, set up now and at every boot
version_added: 0.2.0
description:
  - Manages one zram swap device, C(/dev/zram0), with its size, compression algorithm and swap priority, now and
    at every boot, with systemd-zram-generator or with a systemd service of its own.
  - The device is compared with what the kernel shows (C(/sys/block/zram0/disksize), C(comp_algorithm) and
    C(/proc/swaps)). When its size, algorithm or priority differ, or the method changes, it is swapped off, reset,
    set up again, formatted and swapped on; a failure on the way sets the old device up again and puts every file
    back. Swapping off is refused, before anything is changed, when the swap the device holds is more than
    MemAvailable.
  - The zram swap comes up before C(systemd-oomd) at boot with either method. systemd-oomd reads the swap devices
    when it starts, and on Debian 12 nothing orders it after the generator's C(dev-zram0.swap)
    (C(systemd-oomd.service) has C(DefaultDependencies=no)), so with V(generator) the module adds that order in a
    drop-in; its own service is ordered C(Before=swap.target systemd-oomd.service).
  - The module never installs packages.
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
    details: Shows each file it writes or removes, and the device's size, algorithm, priority and activation.
  platform:
    platforms: posix
    details: Linux with systemd as init. Hosts without systemd (OpenRC, sysvinit) are refused with O(state=present).
options:
  state:
    description:
      - V(present) makes C(/dev/zram0) swap as asked, now and at every boot.
      - V(absent) swaps it off, resets it, unloads the zram module where it is loadable and unused, and removes
        every file the module wrote (and the service's enablement), then C(systemctl daemon-reload). It also
        removes a C(zram-generator.conf) that configures nothing but zram0, such as the one Debian's package
        ships, which would set zram0 up again at the next boot.
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - The device's size. Required when O(state=present).
      - A fraction of the RAM as systemd-zram-generator writes it (V(ram / 2), V(ram * 0.75), V(ram)), or a
        percentage of the RAM (V(50%)); the RAM is C(MemTotal). With O(method=generator) a fraction is written
        as an expression, so the generator sizes the device from the RAM at every boot; with O(method=unit) it
        is computed when the module runs.
      - Or bytes as an integer, or a string with a binary unit C(K), C(M), C(G) or C(T), optionally followed by
        C(iB) or C(B) (V(512M), V(1G), V(1.5GiB)).
      - The kernel rounds the size up to a whole page; systemd-zram-generator sets whole MiB, rounded down. More
        than twice the RAM is refused, since zram that large makes a host thrash instead of kill; so is less than
        the 10 pages C(mkswap) needs.
    type: raw
  algorithm:
    description:
      - The compression algorithm, by the kernel's name (V(lzo-rle), V(lzo), V(lz4), V(lz4hc), V(zstd), V(842)).
      - Refused when C(/sys/block/zram0/comp_algorithm) does not list it. When zram is not loaded yet and the run
        is not in check mode, the module loads it (C(modprobe zram)) to read that list; in check mode a name the
        kernel lacks is found only by the real run.
      - When omitted, the algorithm is not managed; a new device gets the kernel's default (C(lzo-rle) on Debian).
    type: str
  priority:
    description:
      - The swap priority, V(0) to V(32767). The default, V(100), is above any swap file's, so that zram fills
        first and a swap file (M(lowmem.hardening.swapfile) leaves the kernel's negative default unless given a
        priority) takes the overflow. Give a swap file a lower priority than this.
    type: int
    default: 100
  method:
    description:
      - How the device is made now and at boot.
      - V(generator) uses systemd-zram-generator (Debian's C(systemd-zram-generator)). It writes
        C(/etc/systemd/zram-generator.conf) (C([zram0]) with C(zram-size), C(compression-algorithm),
        C(swap-priority)) and C(/etc/systemd/system/dev-zram0.swap.d/lowmem-oomd.conf) (C(Before=systemd-oomd.service)),
        runs C(systemctl daemon-reload), starts C(systemd-zram-setup@zram0.service) and C(dev-zram0.swap).
        A C(zram-generator.conf) that configures other devices too is refused, not rewritten.
      - V(unit) writes C(/etc/systemd/system/lowmem-zram.service), a oneshot service that runs, without a shell,
        C(modprobe zram), C(zramctl --size BYTES [--algorithm A] /dev/zram0), C(mkswap /dev/zram0) and
        C(swapon --priority N /dev/zram0), ordered C(Before=swap.target systemd-oomd.service), enables it
        (C(swap.target.wants)) and starts it. Its stop swaps off, resets (C(zramctl --reset) also removes the
        device) and unloads zram where nothing else uses it, so that the next start's C(modprobe) makes zram0
        again. It needs C(modprobe) (package C(kmod)); zram built into the kernel is refused with this method.
      - V(auto) uses V(generator) where systemd-zram-generator is installed, else V(unit).
      - Changing the method removes the other method's files and makes the device again.
    type: str
    choices: [auto, generator, unit]
    default: auto
notes:
  - Needs systemd as init, C(systemctl), C(zramctl), C(mkswap), C(swapon), C(swapoff), and C(modprobe). Hosts
    without systemd (OpenRC, sysvinit) are refused with C(Not supported on this host), as there is no boot-time
    set-up for them yet; only O(state=absent) runs there (the device and the files, without C(systemctl)).
  - Only C(/dev/zram0) is managed. A zram0 that is set up but is not swap (a file system) and was not made by
    this module is refused.
  - The files are root-owned C(0644); one with another mode or owner is rewritten.
  - After a failed run whose undo set the old device up again by hand, the swap is on but its service may show
    as inactive until the next boot.
seealso:
  - name: zram
    description: The kernel's documentation of zram.
    link: https://docs.kernel.org/admin-guide/blockdev/zram.html
  - name: zram-generator.conf(5)
    description: systemd-zram-generator's configuration.
    link: https://github.com/systemd/zram-generator/blob/main/man/zram-generator.conf.md
'''

EXAMPLES = r'''
- name: zram swap of half the RAM, compressed with zstd, before the swap file
  lowmem.hardening.zram:
    size: ram / 2
    algorithm: zstd
  become: true

- name: The module's own boot-time service, even where the generator is installed
  lowmem.hardening.zram:
    size: 256M
    algorithm: lz4
    priority: 50
    method: unit
  become: true

- name: See what would change
  lowmem.hardening.zram:
    size: 50%
  check_mode: true
  diff: true
  become: true

- name: No zram swap any more
  lowmem.hardening.zram:
    state: absent
  become: true
'''

RETURN = r'''
method:
  description: The method used, V(generator) or V(unit); V(null) when O(state=absent).
  returned: always
  type: str
  sample: generator
device:
  description: The device managed.
  returned: always
  type: str
  sample: /dev/zram0
size:
  description: The device's size in bytes afterwards (predicted in check mode); V(0) when there is none.
  returned: always
  type: int
  sample: 246435840
algorithm:
  description: The compression algorithm afterwards, as the kernel names it; V(null) when there is no device, or
    when it was not given and the device is yet to be made (check mode).
  returned: always
  type: str
  sample: zstd
priority:
  description: The swap priority afterwards; V(null) when there is no device.
  returned: always
  type: int
  sample: 100
active:
  description: Whether the device is active swap afterwards.
  returned: always
  type: bool
  sample: true
files:
  description: The files the module keeps afterwards.
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/zram-generator.conf, /etc/systemd/system/dev-zram0.swap.d/lowmem-oomd.conf]
recreated:
  description: Whether the device was swapped off and set up again (or made for the first time).
  returned: always
  type: bool
  sample: false
stats:
  description:
    - C(/sys/block/zram0/mm_stat) after the run (before it in check mode), by the kernel's field names (bytes;
      C(same_pages), C(pages_compacted) and C(huge_pages) in pages), and C(ratio), C(orig_data_size) over
      C(compr_data_size) (V(null) while nothing is stored). Empty when there is no device.
  returned: always
  type: dict
  sample: {orig_data_size: 104857600, compr_data_size: 31457280, mem_used_total: 33554432, ratio: 3.33}
backup_file:
  description: The copy of C(/etc/systemd/zram-generator.conf) made before it was changed.
  returned: when O(backup=true) and that file changed
  type: str
  sample: /etc/systemd/zram-generator.conf.12345.2026-12-05@04:30:00~
'''

import errno
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.plugins.module_utils import zram

# Host locations; module-level so that unit tests can point them elsewhere.
SYSTEMD_RUNTIME = '/run/systemd/system'
GENERATORS = ('/usr/lib/systemd/system-generators/zram-generator', '/lib/systemd/system-generators/zram-generator')
GENERATOR_CONFIG = '/etc/systemd/zram-generator.conf'
UNIT_DIRECTORY = '/etc/systemd/system'
SYS_BLOCK = '/sys/block'
SYS_MODULE = '/sys/module'
ZRAM_CONTROL = '/sys/class/zram-control'
RESET_WAIT = 10  # seconds


def paths():
    return {
        'config': GENERATOR_CONFIG,
        'dropin': os.path.join(UNIT_DIRECTORY, zram.SWAP_UNIT + '.d', 'lowmem-oomd.conf'),
        'unit': os.path.join(UNIT_DIRECTORY, zram.UNIT_NAME),
    }


def wants_link():
    return os.path.join(UNIT_DIRECTORY, 'swap.target.wants', zram.UNIT_NAME)


class Zram(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.paths = paths()
        self.tools = {}

    # ---- checks ------------------------------------------------------------

    def read_request(self):
        p = self.params
        size = None
        try:
            if p['size'] is not None:
                size = zram.parse_size(p['size'])
            if p['algorithm'] is not None:
                zram.check_algorithm(p['algorithm'], [])
        except zram.ZramError as exc:
            self.fail('%s' % exc)
        if not 0 <= p['priority'] <= 32767:
            self.fail('priority: %d is out of range; use 0 to 32767' % p['priority'])
        return zram.Request(p['state'], size, p['algorithm'], p['priority'], p['method'])

    def fail(self, msg, **result):
        self.module.fail_json(msg='%s. Nothing was changed.' % msg.rstrip('.'), **result)

    # ---- reading the host ---------------------------------------------------

    def zram_builtin(self):
        """zram is in the kernel itself: /sys/module/zram without a loadable module's initstate."""
        directory = os.path.join(SYS_MODULE, 'zram')
        return os.path.isdir(directory) and not os.path.exists(os.path.join(directory, 'initstate'))

    def zram_loadable_loaded(self):
        return os.path.exists(os.path.join(SYS_MODULE, 'zram', 'initstate'))

    def read_device(self):
        directory = os.path.join(SYS_BLOCK, zram.NAME)
        if not os.path.isdir(directory):
            return zram.Device(False, 0, None, [], None, {})
        algorithm, algorithms = zram.parse_comp_algorithm(host.read_bytes(os.path.join(directory, 'comp_algorithm')))
        return zram.Device(True, zram.parse_disksize(host.read_bytes(os.path.join(directory, 'disksize'))),
                           algorithm, algorithms, zram.swap_of(host.read_swaps()),
                           zram.parse_mm_stat(host.read_bytes(os.path.join(directory, 'mm_stat'))))

    def read_host(self):
        meminfo = host.read_meminfo()
        files, misowned = {}, []
        for key, path in self.paths.items():
            copy = host.copy_of(path)
            files[key] = copy.content if copy is not None else None
            if copy is not None and (copy.mode, copy.uid, copy.gid) != (0o644, 0, 0):
                misowned.append(key)
        return zram.Host(
            mem_total=meminfo.get('MemTotal', 0), mem_available=host.memory_available(meminfo),
            page_size=os.sysconf('SC_PAGE_SIZE'), systemd=os.path.isdir(SYSTEMD_RUNTIME),
            generator=any(os.path.exists(path) for path in GENERATORS), files=files, misowned=misowned,
            enabled=os.path.lexists(wants_link()), device=self.read_device())

    def tool(self, name, required=True):
        if name not in self.tools:
            self.tools[name] = self.module.get_bin_path(name, required=required)
        return self.tools[name]

    def unit_tools(self):
        if self.zram_builtin():
            self.fail('Not supported on this host: method=unit with zram built into the kernel (the service makes '
                      'zram0 by loading and unloading the module); use method=generator')
        tools = dict((name, self.tool(name)) for name in ('zramctl', 'mkswap', 'swapon', 'swapoff'))
        tools['modprobe'] = self.tool('modprobe', required=False)
        if tools['modprobe'] is None:
            self.fail('method: unit needs modprobe (package kmod) to load zram at boot, and it is not installed')
        return tools

    # ---- applying -------------------------------------------------------------

    def systemctl(self, *args):
        argv = [self.tool('systemctl')] + list(args)
        return host.checked_command(self.module, argv)

    def zramctl(self, *args):
        argv = [self.tool('zramctl')] + list(args)
        return host.checked_command(self.module, argv)

    def swapon(self, priority):
        argv = [self.tool('swapon')]
        if priority is not None and priority >= 0:
            argv += ['--priority', '%d' % priority]
        host.checked_command(self.module, argv + [zram.DEVICE])

    def swapoff(self):
        host.checked_command(self.module, [self.tool('swapoff'), zram.DEVICE])

    def ensure_device(self):
        """Make zram0 exist: load zram (which makes zram0), or add it back through zram-control (zramctl --reset
        and the generator's stop remove the device; a new one takes the lowest free number)."""
        if os.path.isdir(os.path.join(SYS_BLOCK, zram.NAME)):
            return
        if not os.path.isdir(ZRAM_CONTROL):
            host.checked_command(self.module, [self.tool('modprobe'), 'zram'])
        if os.path.isdir(os.path.join(SYS_BLOCK, zram.NAME)):
            return
        number = to_text(host.read_bytes(os.path.join(ZRAM_CONTROL, 'hot_add'))).strip()
        if number != '0':
            host.write_once(os.path.join(ZRAM_CONTROL, 'hot_remove'), to_bytes(number))
            raise host.StepFailed('%s is missing and zram-control added zram%s instead' % (zram.DEVICE, number))

    def reset(self):
        """Reset zram0 through sysfs (unlike zramctl --reset, this keeps the device), when it is set up. The kernel
        answers EBUSY while anything has the device open, as udev's probe does for a moment after a swapoff or a
        hot_add: wait for that, up to RESET_WAIT seconds."""
        directory = os.path.join(SYS_BLOCK, zram.NAME)
        if not os.path.isdir(directory) or not zram.parse_disksize(host.read_bytes(os.path.join(directory, 'disksize'))):
            return
        deadline = time.time() + RESET_WAIT
        while True:
            try:
                host.write_once(os.path.join(directory, 'reset'), b'1')
                return
            except (IOError, OSError) as exc:
                if exc.errno != errno.EBUSY or time.time() > deadline:
                    raise host.StepFailed('resetting %s (1 > %s/reset) failed: %s'
                                          % (zram.DEVICE, directory, os.strerror(exc.errno)))
            time.sleep(0.2)

    def restore_device(self, old):
        """Undo of a teardown: the old device set up again by hand (its pages were taken back by swapoff). A device
        that still has the old size and algorithm (its reset failed) is only formatted and swapped on again."""
        if zram.swap_of(host.read_swaps()) is not None:
            self.swapoff()
        self.ensure_device()
        now = self.read_device()
        if now.disksize != old.disksize or (old.algorithm and now.algorithm != old.algorithm):
            self.reset()
            if not old.disksize:
                return
            argv = ['--size', '%d' % old.disksize] + (['--algorithm', old.algorithm] if old.algorithm else [])
            self.zramctl(*(argv + [zram.DEVICE]))
        if old.swap is not None:
            host.checked_command(self.module, [self.tool('mkswap'), zram.DEVICE])
            self.swapon(old.swap.priority)

    def teardown(self, changes, current):
        """Swap the device off, stop the services that hold it and reset it; the undo sets the old one up again."""
        old = current.device
        changes.did(lambda: self.restore_device(old))
        if old.swap is not None:
            self.swapoff()
        if current.systemd:
            if current.generator:
                self.systemctl('stop', zram.SETUP_SERVICE)  # its ExecStop resets; dev-zram0.swap requires it
            if current.files['unit'] is not None:
                self.systemctl('stop', zram.UNIT_NAME)  # its ExecStop removes the device, and unloads zram
        self.reset()

    @staticmethod
    def remove_empty(changes, directory):
        """Remove a directory systemctl or this module made, once empty (swap.target.wants, dev-zram0.swap.d)."""
        if os.path.isdir(directory) and not os.listdir(directory):
            os.rmdir(directory)
            if changes is not None:
                changes.did(lambda: os.mkdir(directory, 0o755))

    def write_files(self, changes, current, the_plan):
        backup = None
        for key in the_plan.write:
            path, content = self.paths[key], the_plan.files[key]
            if content is not None:
                saved = changes.write_file(path, content, mode=0o644, backup=self.params['backup'] and key == 'config')
                backup = saved or backup
                continue
            changes.remove_file(path)
            if key == 'dropin':
                self.remove_empty(changes, os.path.dirname(path))
        return backup

    def setup(self, changes, the_plan):
        """Start the method's units (the teardown stopped them: start, not restart, whose stop would remove the
        device again); the undo stops them, which resets and removes the device."""
        self.ensure_device()
        if the_plan.method == 'generator':
            changes.did(lambda: self.systemctl('stop', zram.SETUP_SERVICE))
            self.systemctl('start', zram.SETUP_SERVICE)
            self.systemctl('start', zram.SWAP_UNIT)
        else:
            changes.did(lambda: self.systemctl('stop', zram.UNIT_NAME))
            self.systemctl('start', zram.UNIT_NAME)

    def check_device(self, current, the_plan):
        """The device as the kernel shows it after the set-up, or StepFailed when it is not as asked."""
        device = self.read_device()
        seen = current._replace(device=device)
        if not zram.device_matches(seen, the_plan.size, self.params['algorithm'], the_plan.priority):
            raise host.StepFailed(
                'after the set-up %s shows %s' % (zram.DEVICE, 'no swap' if device.swap is None else
                                                  'size %d, algorithm %s, swap priority %d' % (
                                                      device.disksize, device.algorithm, device.swap.priority))
                + '; asked: size %d, algorithm %s, priority %d'
                % (the_plan.size, self.params['algorithm'] or '(any)', the_plan.priority))
        return device

    def apply(self, changes, current, the_plan):
        """Make the plan true; returns the backup of zram-generator.conf or None."""
        systemd = current.systemd
        if the_plan.teardown:
            self.teardown(changes, current)
        reload = systemd and bool(the_plan.write or the_plan.enable or the_plan.disable)
        if reload:
            changes.did(lambda: self.systemctl('daemon-reload'))
        wants = os.path.dirname(wants_link())
        if the_plan.disable and systemd:
            self.systemctl('disable', zram.UNIT_NAME)
            changes.did(lambda: self.systemctl('enable', zram.UNIT_NAME))
        elif the_plan.disable:
            host.remove_quietly(to_bytes(wants_link()))  # no systemctl: the link is all there is
        if the_plan.disable:
            self.remove_empty(changes, wants)
        backup = self.write_files(changes, current, the_plan)
        if reload:
            self.systemctl('daemon-reload')
        if the_plan.enable:
            made = not os.path.isdir(wants)
            self.systemctl('enable', zram.UNIT_NAME)
            changes.did(lambda: (self.systemctl('disable', zram.UNIT_NAME), made and self.remove_empty(None, wants)))
        if the_plan.setup:
            self.setup(changes, the_plan)
            self.check_device(current, the_plan)
        return backup

    def unload(self):
        """absent: unload the zram module when it is loadable, so that no /dev/zram0 is left; a warning if not."""
        modprobe = self.tool('modprobe', required=False)
        if not self.zram_loadable_loaded() or modprobe is None:
            return
        rc, _out, err = host.run_command(self.module, [modprobe, '-r', 'zram'])
        if rc != 0:
            self.module.warn('zram0 is reset, but the zram module stays loaded: modprobe -r zram: %s' % err.strip())

    # ---- reporting ------------------------------------------------------------

    def result(self, current, the_plan, device):
        active = device.swap is not None if device is not None else the_plan.active
        if device is not None and device.exists and active:
            size, algorithm, priority = device.disksize, device.algorithm, device.swap.priority
        else:
            size, algorithm, priority = the_plan.size, the_plan.algorithm, the_plan.priority
        stats = (device if device is not None else current.device).stats
        return dict(changed=the_plan.changed, method=the_plan.method, device=zram.DEVICE, size=size,
                    algorithm=algorithm, priority=priority, active=active,
                    files=sorted(self.paths[key] for key, content in the_plan.files.items() if content is not None),
                    recreated=the_plan.setup, stats=stats if device is None or device.exists else {})

    def diff(self, current, the_plan):
        entries = []
        for key in ('config', 'dropin', 'unit'):
            before, after = current.files.get(key), the_plan.files.get(key)
            if before != after or key in the_plan.write:
                entries.append(dict(before_header=self.paths[key], after_header=self.paths[key],
                                    before=to_text(before or b'', errors='surrogate_or_replace'),
                                    after=to_text(after or b'', errors='surrogate_or_replace')))
        device = current.device
        header = '%s (runtime)' % zram.DEVICE
        priority = device.swap.priority if device.swap else None
        entries.append(dict(
            before_header=header, after_header=header,
            before=zram.describe_device(device.disksize, device.algorithm, priority, device.swap is not None),
            after=zram.describe_device(the_plan.size, the_plan.algorithm, the_plan.priority, the_plan.active)))
        return entries

    def run(self):
        host.require_root(self.module, 'manage zram swap and its boot-time set-up')
        request = self.read_request()
        if request.state == 'present' and not os.path.isdir(SYSTEMD_RUNTIME):
            self.fail('Not supported on this host: zram swap at boot needs systemd as init (%s is missing); on '
                      'OpenRC or sysvinit, set zram up with the init system\'s own service' % SYSTEMD_RUNTIME)
        with host.locked(os.path.dirname(GENERATOR_CONFIG), UNIT_DIRECTORY):
            if (request.state == 'present' and request.algorithm and not self.module.check_mode
                    and not os.path.isdir(os.path.join(SYS_BLOCK, zram.NAME)) and not self.zram_builtin()):
                modprobe = self.tool('modprobe', required=False)
                if modprobe is not None:  # so that comp_algorithm lists what this kernel offers
                    host.run_command(self.module, [modprobe, 'zram'])
            current = self.read_host()
            method = zram.pick_method(request.method, current) if request.state == 'present' else None
            tools = self.unit_tools() if method == 'unit' else None
            try:
                the_plan = zram.plan(request, current, tools, self.paths)
            except zram.ZramError as exc:
                self.fail('%s' % exc)
            if not the_plan.changed:
                # a device from a boot whose set-up was not verified: show it as the kernel does
                self.module.exit_json(**self.result(current, the_plan, current.device))
            if not self.module.check_mode:
                for name in ['systemctl'] * current.systemd + ['zramctl', 'swapon', 'swapoff', 'mkswap']:
                    self.tool(name)
            result = self.result(current, the_plan, None)
            if self.module._diff:
                result['diff'] = self.diff(current, the_plan)
            if self.module.check_mode:
                self.module.exit_json(**result)
            seen = dict(self.result(current, the_plan, current.device), changed=False, recreated=False,
                        files=sorted(self.paths[key] for key, content in current.files.items() if content is not None))
            with host.Changes(self.module, seen) as changes:
                backup = self.apply(changes, current, the_plan)
            if the_plan.unload:
                self.unload()
            device = self.read_device()
            result.update(self.result(current, the_plan, device))
            if backup:
                result['backup_file'] = backup
            self.module.exit_json(**result)


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            size=dict(type='raw'),
            algorithm=dict(type='str'),
            priority=dict(type='int', default=zram.DEFAULT_PRIORITY),
            method=dict(type='str', choices=['auto', 'generator', 'unit'], default='auto'),
            backup=dict(type='bool', default=False),
        ),
        required_if=[('state', 'present', ['size'])],
        supports_check_mode=True,
    )


def main():
    Zram(build_module()).run()


if __name__ == '__main__':
    main()
