# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the role set adj [0, 1, 6, 12] (twice) on an Android kernel with oom_adj autodetection."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

import yaml

PARAMETERS = '/sys/module/lowmemorykiller/parameters'
CRON_FILE = '/etc/cron.d/lowmemorykiller'
STATE_FILE = '/var/lib/lowmem-hardening/lowmemorykiller.json'
ANDROID_INIT_ADJ = '0,58,117,235,529,1000\n'


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def test_the_kernel_shows_the_converted_values(host):
    shown = dict((name, host.file('%s/%s' % (PARAMETERS, name)).content_string) for name in ('adj', 'minfree'))
    assert shown == {'adj': '0,58,352,705\n', 'minfree': '1024,2048,4096,8192\n'}


def test_the_boot_file_writes_what_the_kernel_shows(host):
    """Written again at boot, 0,58,352,705 stays as it is (last value above 15): no second conversion."""
    lines = [line for line in host.file(CRON_FILE).content_string.splitlines() if line.startswith('@reboot')]
    assert lines == ['@reboot root echo 0,58,352,705 > %s/adj' % PARAMETERS,
                     '@reboot root echo 1024,2048,4096,8192 > %s/minfree' % PARAMETERS]


def test_the_module_learned_that_this_kernel_converts(host):
    entry = json.loads(host.file(STATE_FILE).content_string)['paths'][PARAMETERS]
    assert entry['adj_autodetect'] is True
    # What Android's init had written (prepare.yml) is what state=restored would put back.
    assert entry['original']['adj'] == ANDROID_INIT_ADJ
