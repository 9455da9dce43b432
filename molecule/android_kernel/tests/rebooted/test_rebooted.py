# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After a reboot of the Android kernel: cron's @reboot lines bring back what the kernel showed before."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import yaml

PARAMETERS = '/sys/module/lowmemorykiller/parameters'


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def test_the_container_has_really_rebooted(host):
    assert not host.file('/run/lowmem-test-before-reboot').exists


def test_the_kernel_shows_the_same_values_as_before_the_reboot(host):
    shown = dict((name, host.file('%s/%s' % (PARAMETERS, name)).content_string) for name in ('adj', 'minfree'))
    assert shown == {'adj': '0,58,352,705\n', 'minfree': '1024,2048,4096,8192\n'}
