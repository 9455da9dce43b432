# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every stage verifier of the kernel scenario shares: the VMs (testinfra's ssh backend, with the
ssh_config that create.yml wrote), the results the side effects saved, and readers of the guest."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

import yaml

PARAMETERS = '/sys/module/lowmemorykiller/parameters'
DEFAULTS = {'adj': '0,1,6,12\n', 'minfree': '1536,2048,4096,16384\n', 'cost': '32\n', 'debug_level': '1\n'}
EPHEMERAL = os.environ.get('MOLECULE_EPHEMERAL_DIRECTORY', '')


def hosts(*names):
    """testinfra host specs of the VMs (all of them when no name is given)."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        instances = [entry['instance'] for entry in yaml.safe_load(f)]
    ssh_config = os.path.join(EPHEMERAL, 'ssh_config')
    return ['ssh://%s?ssh_config=%s' % (name, ssh_config) for name in instances if not names or name in names]


def name(host):
    return host.backend.get_hostname()


def saved(stage, host):
    """What a side effect saved for this host: $MOLECULE_EPHEMERAL_DIRECTORY/STAGE-HOST.json."""
    with open(os.path.join(EPHEMERAL, '%s-%s.json' % (stage, name(host)))) as f:
        return json.load(f)


def case(host, case_name):
    """One case of semantics.yml (tasks/case.yml) on this host."""
    return saved('semantics', host)[case_name]


def joined(values):
    """An array as the kernel shows it."""
    return ','.join(str(value) for value in values) + '\n'


def parameters(host):
    """Every parameter as the kernel shows it, text as read."""
    return dict((parameter, host.file('%s/%s' % (PARAMETERS, parameter)).content_string)
                for parameter in ('adj', 'minfree', 'cost', 'debug_level'))


def parameter_files(snapshot):
    """The parameters in a snapshot (tasks/snapshot.yml) by name."""
    prefix = PARAMETERS + '/'
    return dict((path[len(prefix):], text) for path, text in snapshot.items() if path.startswith(prefix))


def meminfo(host):
    """/proc/meminfo in kB by field."""
    fields = {}
    for line in host.file('/proc/meminfo').content_string.splitlines():
        key, value = line.split(':', 1)
        fields[key] = int(value.split()[0])
    return fields


def swaps(host):
    """Active swap areas: [(path, size_kb, used_kb)] from /proc/swaps."""
    lines = host.file('/proc/swaps').content_string.splitlines()[1:]
    return [(fields[0], int(fields[2]), int(fields[3])) for fields in (line.split() for line in lines)]


def boot_id(host):
    return host.file('/proc/sys/kernel/random/boot_id').content_string.strip()
