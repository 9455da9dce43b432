# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After resizing the active swap file to 96M: the new size is active, in the container and on the host."""

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


def _usable_kib(host, mib):
    """What /proc/swaps shows for a swap file of mib MiB: every page but mkswap's header page."""
    page_size = int(host.check_output('getconf PAGESIZE'))
    return ((mib << 20) // page_size - 1) * page_size // 1024


def test_the_resized_file_is_active_in_the_container(host):
    swapfile = _swapfile(host)
    areas = _swap_areas(host.file('/proc/swaps').content_string)
    assert areas.get(swapfile) == _usable_kib(host, 96)
    # Nothing else of ours (a temporary of the resize) is left active.
    assert [name for name in areas if name.startswith(os.path.dirname(swapfile) + '/')] == [swapfile]


def test_the_host_has_the_new_size_too(host):
    swapfile = _swapfile(host)
    areas = _swap_areas(_host_proc_swaps())
    assert areas.get(swapfile) == _usable_kib(host, 96)
    assert [name for name in areas if name.startswith(os.path.dirname(swapfile) + '/')] == [swapfile]


def test_the_file_has_the_new_size_and_one_fstab_line(host):
    swapfile = _swapfile(host)
    f = host.file(swapfile)
    assert (f.user, f.mode, f.size) == ('root', 0o600, 96 << 20)
    assert _fstab_lines(host, swapfile) == ['%s none swap sw 0 0' % swapfile]
    assert host.file(os.path.dirname(swapfile)).listdir() == ['swapfile']
