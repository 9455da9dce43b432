# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After converge and a reboot: the values are back through the boot-time mechanism alone."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import yaml

PARAMETERS = '/sys/module/lowmemorykiller/parameters'
BOOT_FILES = {'tmpfiles': '/etc/tmpfiles.d/lowmemorykiller.conf', 'cron': '/etc/cron.d/lowmemorykiller'}
EXPECTED_LINES = {
    'tmpfiles': ['w %s/adj - - - - 9999' % PARAMETERS, 'w %s/minfree - - - - 1' % PARAMETERS],
    'cron': ['SHELL=/bin/sh', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
             '@reboot root echo 9999 > %s/adj' % PARAMETERS, '@reboot root echo 1 > %s/minfree' % PARAMETERS],
}


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def _method(host):
    """systemd containers persist with tmpfiles, the others with cron (persist=auto)."""
    return 'cron' if host.backend.get_hostname().endswith('-cron') else 'tmpfiles'


def test_the_container_has_really_rebooted(host):
    assert not host.file('/run/lowmem-test-before-reboot').exists


def test_the_kernel_shows_the_persisted_values_after_the_reboot(host):
    shown = dict((name, host.file('%s/%s' % (PARAMETERS, name)).content_string)
                 for name in ('adj', 'minfree', 'cost', 'debug_level'))
    assert shown == {'adj': '9999\n', 'minfree': '1\n', 'cost': '32\n', 'debug_level': '1\n'}


def test_only_the_expected_boot_file_holds_them(host):
    method = _method(host)
    for name, path in BOOT_FILES.items():
        assert host.file(path).exists == (name == method), path
    boot_file = host.file(BOOT_FILES[method])
    assert (boot_file.user, boot_file.group, boot_file.mode) == ('root', 'root', 0o644)
    lines = [line for line in boot_file.content_string.splitlines() if line and not line.startswith('#')]
    assert lines == EXPECTED_LINES[method]
