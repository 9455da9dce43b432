# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the role with its defaults: what the hosts show (testinfra, through podman exec)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

import yaml

PARAMETERS = '/sys/module/lowmemorykiller/parameters'
TMPFILES = '/etc/tmpfiles.d/lowmemorykiller.conf'
STATE_FILE = '/var/lib/lowmem-hardening/lowmemorykiller.json'
SWAPFILE = '/mnt/disk/swapfile'
SYSCTL_FILE = '/etc/sysctl.d/60-lowmem-hardening.conf'


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def _content_lines(host, path):
    return [line for line in host.file(path).content_string.splitlines() if line and not line.startswith('#')]


def test_lowmemorykiller_is_disabled_as_the_kernel_shows_it(host):
    shown = dict((name, host.file('%s/%s' % (PARAMETERS, name)).content_string)
                 for name in ('adj', 'minfree', 'cost', 'debug_level'))
    assert shown == {'adj': '9999\n', 'minfree': '1\n', 'cost': '32\n', 'debug_level': '1\n'}


def test_values_come_back_at_boot_through_a_tmpfiles_file(host):
    boot_file = host.file(TMPFILES)
    assert (boot_file.user, boot_file.group, boot_file.mode) == ('root', 'root', 0o644)
    assert _content_lines(host, TMPFILES) == ['w %s/adj - - - - 9999' % PARAMETERS,
                                              'w %s/minfree - - - - 1' % PARAMETERS]


def test_the_values_before_the_change_are_saved_for_state_restored(host):
    state = host.file(STATE_FILE)
    assert (state.user, state.mode) == ('root', 0o600)
    saved = json.loads(state.content_string)['paths'][PARAMETERS]['original']
    assert saved == {'adj': '0,1,6,12\n', 'minfree': '1536,2048,4096,16384\n', 'cost': '32\n', 'debug_level': '1\n'}


def test_swapfile_exists_with_a_swap_signature(host):
    swapfile = host.file(SWAPFILE)
    assert swapfile.is_file
    assert (swapfile.user, swapfile.group, swapfile.mode) == ('root', 'root', 0o600)
    assert swapfile.size == 64 * 1024 * 1024
    page_size = int(host.check_output('getconf PAGESIZE'))
    # mkswap writes the version 2 magic into the last 10 bytes of the first page.
    magic = host.check_output('dd if=%s bs=1 skip=%d count=10 status=none' % (SWAPFILE, page_size - 10))
    assert magic == 'SWAPSPACE2'


def test_fstab_has_the_swap_line_once(host):
    lines = _content_lines(host, '/etc/fstab')
    assert lines.count('%s none swap sw 0 0' % SWAPFILE) == 1


def test_sysctl_file_holds_the_default_settings(host):
    sysctl_file = host.file(SYSCTL_FILE)
    assert (sysctl_file.user, sysctl_file.group, sysctl_file.mode) == ('root', 'root', 0o644)
    assert sorted(_content_lines(host, SYSCTL_FILE)) == ['vm.swappiness = 10', 'vm.vfs_cache_pressure = 50']
