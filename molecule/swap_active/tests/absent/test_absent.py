# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After lowmem_swapfile_state=absent: swapped off everywhere, file and fstab line gone."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import yaml


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def _swapfile(host):
    """swap_dir/swapfile: the same path in the container and on the host (molecule/resources/create.yml)."""
    with open(os.environ['MOLECULE_FILE']) as f:
        platforms = yaml.safe_load(f)['platforms']
    platform = [p for p in platforms if p['name'] == host.backend.get_hostname()][0]
    return platform['swap_dir'] + '/swapfile'


def _swap_areas(proc_swaps):
    """{name: size in KiB} from the text of /proc/swaps."""
    return dict((fields[0], int(fields[2])) for fields in (line.split() for line in proc_swaps.splitlines()[1:]))


def _host_proc_swaps():
    """The host's, read by this verifier, which runs on the host."""
    with open('/proc/swaps') as f:
        return f.read()


def _fstab_lines(host, swapfile):
    return [line for line in host.file('/etc/fstab').content_string.splitlines() if line.split()[:1] == [swapfile]]


def test_nothing_of_ours_is_active_in_the_container(host):
    swap_dir = os.path.dirname(_swapfile(host)) + '/'
    assert [name for name in _swap_areas(host.file('/proc/swaps').content_string) if name.startswith(swap_dir)] == []


def test_nothing_of_ours_is_active_on_the_host(host):
    swap_dir = os.path.dirname(_swapfile(host)) + '/'
    assert [name for name in _swap_areas(_host_proc_swaps()) if name.startswith(swap_dir)] == []


def test_the_file_and_its_fstab_line_are_gone(host):
    swapfile = _swapfile(host)
    assert not host.file(swapfile).exists
    assert _fstab_lines(host, swapfile) == []
