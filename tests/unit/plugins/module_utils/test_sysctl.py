# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils.sysctl import (
    HEADER,
    name_error,
    name_to_path,
    normalise_kernel_text,
    normalise_value,
    plan_runtime,
    render_file,
    render_lines,
    validate_values,
)


@pytest.mark.parametrize('name', [
    'vm.swappiness',
    'net.ipv4.ip_local_port_range',
    'net.ipv4.conf.eth0.rp_filter',
    'net.bridge.bridge-nf-call-iptables',
    'kernel.sched_rt_runtime_us',
])
def test_name_error_accepts_dotted_names(name):
    assert name_error(name) is None


@pytest.mark.parametrize('name', [
    'swappiness',            # no dot
    'vm/swappiness',         # slash form
    'vm..swappiness',        # empty component
    '.vm.swappiness',
    'vm.swappiness.',
    'vm.../etc',             # would leave /proc/sys
    'VM.swappiness',         # upper case
    'vm.swap piness',
    '-vm.swappiness',        # sysctl.d's "ignore errors" prefix
    '',
    3,
])
def test_name_error_refuses(name):
    message = name_error(name)
    assert message is not None
    assert 'vm.swappiness' in message  # the accepted form is named


def test_name_to_path():
    assert name_to_path('net.ipv4.ip_local_port_range') == 'net/ipv4/ip_local_port_range'


@pytest.mark.parametrize('text, expected', [
    ('10\n', '10'),
    ('32768\t60999\n', '32768 60999'),
    ('4\t4\t1\t7\n', '4 4 1 7'),
    ('|/usr/bin/handler %p  %s\n', '|/usr/bin/handler %p %s'),
    ('\n', ''),
])
def test_normalise_kernel_text(text, expected):
    assert normalise_kernel_text(text) == expected


@pytest.mark.parametrize('value, expected', [
    (10, '10'),
    (0, '0'),
    (-1, '-1'),
    ('10', '10'),
    (' 10 ', '10'),
    ('32768 60999', '32768 60999'),
    ('32768\t 60999', '32768 60999'),
    ('bbr', 'bbr'),
])
def test_normalise_value(value, expected):
    assert normalise_value(value) == expected


@pytest.mark.parametrize('value, fragment', [
    (True, 'integer or a string'),
    (1.5, 'integer or a string'),
    ([1, 2], 'integer or a string'),
    (None, 'integer or a string'),
    ({'a': 1}, 'integer or a string'),
    ('', 'empty'),
    ('   ', 'empty'),
    ('10\nvm.overcommit_memory = 2', 'one line'),
    ('1\r', 'one line'),
])
def test_normalise_value_refuses(value, fragment):
    with pytest.raises(ValueError, match=fragment):
        normalise_value(value)


def test_validate_values_keeps_order_and_normalises():
    pairs, errors = validate_values({'vm.vfs_cache_pressure': 50, 'vm.swappiness': '10 ',
                                     'net.ipv4.ip_local_port_range': '32768\t60999'})
    assert errors == []
    assert pairs == [('vm.vfs_cache_pressure', '50'), ('vm.swappiness', '10'),
                     ('net.ipv4.ip_local_port_range', '32768 60999')]


def test_validate_values_reports_every_bad_entry():
    pairs, errors = validate_values({'vm.swappiness': True, 'Bad': 1, 'vm.ok': 1})
    assert pairs == [('vm.ok', '1')]
    assert len(errors) == 2
    assert errors[0].startswith('vm.swappiness: ')
    assert "'Bad'" in errors[1]


def test_render_file():
    text = render_file([('vm.swappiness', '10'), ('net.ipv4.ip_local_port_range', '32768 60999')])
    assert text.startswith(HEADER)
    assert 'lowmem.hardening' in HEADER
    assert all(line.startswith('#') for line in HEADER.splitlines())
    assert text[len(HEADER):] == 'vm.swappiness = 10\nnet.ipv4.ip_local_port_range = 32768 60999\n'


def test_render_lines_empty():
    assert render_lines([]) == ''


def test_plan_runtime_compares_normalised_values():
    pairs = [('vm.swappiness', '10'), ('vm.vfs_cache_pressure', '50'), ('net.ipv4.ip_local_port_range', '1024 65000')]
    current = {'vm.swappiness': '60', 'vm.vfs_cache_pressure': '50',
               'net.ipv4.ip_local_port_range': normalise_kernel_text('1024\t65000\n')}
    assert plan_runtime(pairs, current) == ['vm.swappiness']


def test_plan_runtime_nothing_to_do():
    assert plan_runtime([('vm.swappiness', '10')], {'vm.swappiness': '10'}) == []
