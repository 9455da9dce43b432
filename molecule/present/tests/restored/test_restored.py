# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After lowmem_lmk_state=present and then lowmem_lmk_state=restored: all as before the role."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import yaml

PARAMETERS = '/sys/module/lowmemorykiller/parameters'
DRIVER_DEFAULTS = {'adj': '0,1,6,12\n', 'minfree': '1536,2048,4096,16384\n', 'cost': '32\n', 'debug_level': '1\n'}
BOOT_FILES = ['/etc/tmpfiles.d/lowmemorykiller.conf', '/etc/sysfs.d/lowmemorykiller.conf',
              '/etc/local.d/lowmemorykiller.start', '/etc/cron.d/lowmemorykiller']


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def test_the_kernel_shows_the_driver_defaults_again(host):
    shown = dict((name, host.file('%s/%s' % (PARAMETERS, name)).content_string) for name in DRIVER_DEFAULTS)
    assert shown == DRIVER_DEFAULTS


def test_the_boot_file_is_gone(host):
    for path in BOOT_FILES:
        assert not host.file(path).exists, path


def test_the_saved_values_are_forgotten(host):
    assert not host.file('/var/lib/lowmem-hardening').exists
