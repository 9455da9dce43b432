# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After a real reboot (reboot.yml) the kernel starts with the driver's defaults; each boot-time mechanism
must have written the hardened values again, swap must be on from fstab and the sysctls set from
/etc/sysctl.d."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kernel_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts()

# The boot file of the mechanism persist=auto picks (cron where the scenario asks for it; and under
# OpenRC, since Debian's openrc has no `local` service to run /etc/local.d).
BOOT_FILES = {
    'kernel-systemd': '/etc/tmpfiles.d/lowmemorykiller.conf',
    'kernel-android': '/etc/cron.d/lowmemorykiller',
    'kernel-openrc': '/etc/cron.d/lowmemorykiller',
}
CANDIDATES = sorted(set(BOOT_FILES.values()) | set(['/etc/local.d/lowmemorykiller.start',
                                                    '/etc/sysfs.d/lowmemorykiller.conf']))


def test_this_is_a_new_boot(host):
    assert checks.boot_id(host) != checks.saved('reboot-role', host)['boot_id']


def test_the_hardened_values_came_back_at_boot(host):
    assert checks.parameters(host) == dict(checks.DEFAULTS, adj='9999\n', minfree='1\n')


def test_only_the_expected_boot_file_holds_them(host):
    expected = BOOT_FILES[checks.name(host)]
    present = [path for path in CANDIDATES if host.file(path).exists]
    assert present == [expected]


def test_swap_is_on_from_fstab(host):
    assert [path for path, dummy, dummy in checks.swaps(host)] == ['/swapfile']
    assert '/swapfile none swap sw 0 0' in host.file('/etc/fstab').content_string.splitlines()


def test_the_sysctls_came_from_sysctl_d(host):
    assert host.file('/proc/sys/vm/swappiness').content_string == '10\n'
    assert host.file('/proc/sys/vm/vfs_cache_pressure').content_string == '50\n'
