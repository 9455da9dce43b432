# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kernel-openrc really boots without systemd (test_rebooted.py proves what came back at that boot), and
nothing on it would run /etc/local.d: Debian's openrc ships no `local` service, so persist=auto took
cron there."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kernel_checks as checks  # noqa: E402

testinfra_hosts = checks.hosts('kernel-openrc')


def test_openrc_booted_the_host_not_systemd(host):
    assert host.file('/proc/1/comm').content_string == 'init\n'
    assert host.file('/run/openrc').is_directory
    assert not host.file('/run/systemd/system').exists


def test_debian_openrc_has_no_local_service_to_run_local_d(host):
    assert not host.file('/etc/init.d/local').exists
    assert not host.file('/etc/local.d/lowmemorykiller.start').exists
