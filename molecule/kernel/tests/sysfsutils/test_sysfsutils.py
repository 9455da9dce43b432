# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persistence through Debian's sysfsutils (sysfsutils.yml): after switching to persist=sysfsutils and a
real reboot, /etc/sysfs.d alone wrote the hardened values."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kernel_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts('kernel-systemd')

SYSFS_FILE = '/etc/sysfs.d/lowmemorykiller.conf'


def test_this_is_a_new_boot(host):
    assert checks.boot_id(host) != checks.saved('reboot-sysfsutils', host)['boot_id']


def test_the_sysfs_d_file_is_the_only_boot_file(host):
    assert host.file(SYSFS_FILE).exists
    assert not host.file('/etc/tmpfiles.d/lowmemorykiller.conf').exists
    assert not host.file('/etc/cron.d/lowmemorykiller').exists


def test_sysfsutils_wrote_the_hardened_values_at_boot(host):
    assert host.service('sysfsutils').is_enabled
    assert checks.parameters(host) == dict(checks.DEFAULTS, adj='9999\n', minfree='1\n')
