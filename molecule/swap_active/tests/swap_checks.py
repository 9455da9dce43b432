# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the verifiers of the three swap_active stages (active, resized, absent) read, in one place.

Each stage is its own pytest run rooted in its own directory (molecule.yml: `verify tests/STAGE`),
so a conftest.py here would not be loaded; the stages import this module instead.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import yaml


def instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


def swapfile(host):
    """swap_dir/swapfile: the same path in the container and on the host (molecule/resources/create.yml)."""
    with open(os.environ['MOLECULE_FILE']) as f:
        platforms = yaml.safe_load(f)['platforms']
    platform = [p for p in platforms if p['name'] == host.backend.get_hostname()][0]
    return platform['swap_dir'] + '/swapfile'


def swap_areas(proc_swaps):
    """{name: size in KiB} from the text of /proc/swaps."""
    return dict((fields[0], int(fields[2])) for fields in (line.split() for line in proc_swaps.splitlines()[1:]))


def host_proc_swaps():
    """The host's, read by the verifier, which runs on the host."""
    with open('/proc/swaps') as f:
        return f.read()


def fstab_lines(host, path):
    return [line for line in host.file('/etc/fstab').content_string.splitlines() if line.split()[:1] == [path]]


def usable_kib(host, mib):
    """What /proc/swaps shows for a swap file of mib MiB: every page but mkswap's header page."""
    page_size = int(host.check_output('getconf PAGESIZE'))
    return ((mib << 20) // page_size - 1) * page_size // 1024
