# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After lowmem_lmk_state=present with minfree [8M, 16M, 2%, 4%]: the pages the kernel shows and the boot file."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import re

import yaml

PARAMETERS = '/sys/module/lowmemorykiller/parameters'
ADJ = '0,100,200,900'
DRIVER_DEFAULTS = {'adj': '0,1,6,12\n', 'minfree': '1536,2048,4096,16384\n', 'cost': '32\n', 'debug_level': '1\n'}
STATE_FILE = '/var/lib/lowmem-hardening/lowmemorykiller.json'
BOOT_FILES = {'tmpfiles': '/etc/tmpfiles.d/lowmemorykiller.conf', 'cron': '/etc/cron.d/lowmemorykiller'}


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def _mem_total_bytes(meminfo):
    return int(re.search(r'^MemTotal:\s+(\d+) kB$', meminfo, re.MULTILINE).group(1)) * 1024


def _pages_rounded_up(numerator, denominator=1):
    """numerator / denominator pages, rounded up to a whole page, without floating point."""
    return -(-numerator // denominator)


def _expected_minfree(host):
    """[8M, 16M, 2%, 4%] in pages of this host's page size and MemTotal."""
    page_size = int(host.check_output('getconf PAGESIZE'))
    mem_total = _mem_total_bytes(host.file('/proc/meminfo').content_string)
    return [_pages_rounded_up(8 << 20, page_size), _pages_rounded_up(16 << 20, page_size),
            _pages_rounded_up(mem_total * 2, 100 * page_size), _pages_rounded_up(mem_total * 4, 100 * page_size)]


def _method(host):
    return 'cron' if host.backend.get_hostname().endswith('-cron') else 'tmpfiles'


def test_memtotal_in_the_container_is_the_hosts(host):
    """What the percentages are taken of: podman does not virtualise /proc/meminfo."""
    with open('/proc/meminfo') as f:
        assert _mem_total_bytes(host.file('/proc/meminfo').content_string) == _mem_total_bytes(f.read())


def test_the_kernel_shows_the_thresholds_in_pages(host):
    expected = _expected_minfree(host)
    assert expected == sorted(set(expected)), 'the thresholds must be strictly ascending on this host: %s' % expected
    shown = dict((name, host.file('%s/%s' % (PARAMETERS, name)).content_string) for name in DRIVER_DEFAULTS)
    assert shown == dict(DRIVER_DEFAULTS, adj=ADJ + '\n', minfree=','.join(str(p) for p in expected) + '\n')


def test_the_boot_file_holds_the_same_values(host):
    minfree = ','.join(str(p) for p in _expected_minfree(host))
    method = _method(host)
    for name, path in BOOT_FILES.items():
        assert host.file(path).exists == (name == method), path
    lines = [line for line in host.file(BOOT_FILES[method]).content_string.splitlines()
             if line and not line.startswith('#')]
    if method == 'tmpfiles':
        assert lines == ['w %s/adj - - - - %s' % (PARAMETERS, ADJ), 'w %s/minfree - - - - %s' % (PARAMETERS, minfree)]
    else:
        assert lines[2:] == ['@reboot root echo %s > %s/adj' % (ADJ, PARAMETERS),
                             '@reboot root echo %s > %s/minfree' % (minfree, PARAMETERS)]


def test_the_values_before_the_change_are_saved(host):
    saved = json.loads(host.file(STATE_FILE).content_string)['paths'][PARAMETERS]['original']
    assert saved == DRIVER_DEFAULTS
