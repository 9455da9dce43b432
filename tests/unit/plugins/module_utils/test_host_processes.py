# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host.read_processes against a fake /proc: comm, ppid and tty from stat, oom_score_adj, the unit from cgroup."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import host

V2 = b'0::/system.slice/%s\n'
V1 = (b'12:memory:/system.slice/%s\n'
      b'1:name=systemd:/system.slice/%s\n'
      b'0::/\n')


def stat_line(pid, comm, ppid, tty=0):
    # pid (comm) state ppid pgrp session tty_nr tpgid flags ...
    return b'%d (%s) S %d %d %d %d -1 4194560 100 0 0 0\n' % (pid, comm, ppid, pid, pid, tty)


def fake_process(proc, pid, comm, adj, cgroup, ppid=1, tty=0, stat=None):
    directory = proc / str(pid)
    directory.mkdir(parents=True)
    (directory / 'stat').write_bytes(stat if stat is not None else stat_line(pid, comm, ppid, tty))
    (directory / 'oom_score_adj').write_bytes(b'%d\n' % adj)
    (directory / 'cgroup').write_bytes(cgroup)
    (directory / 'comm').write_bytes(comm + b'\n')
    return directory


@pytest.fixture
def proc(tmp_path, monkeypatch):
    root = tmp_path / 'proc'
    root.mkdir()
    (root / 'self').mkdir()  # not a pid
    (root / 'meminfo').write_bytes(b'MemTotal: 1 kB\n')
    monkeypatch.setattr(host, 'PROC', str(root))
    return root


def test_each_process_with_its_parent_terminal_value_and_unit(proc):
    fake_process(proc, 1, b'systemd', 0, b'0::/init.scope\n', ppid=0)
    fake_process(proc, 2, b'kthreadd', 0, b'0::/\n', ppid=0)
    fake_process(proc, 10, b'postgres', -500, V2 % b'postgresql@15-main.service')
    fake_process(proc, 840, b'sshd', -1000, V2 % b'ssh.service')
    fake_process(proc, 900, b'bash', -1000, b'0::/user.slice/user-1000.slice/session-3.scope\n', ppid=899, tty=34816)
    assert host.read_processes() == [
        host.Process(1, 0, 'systemd', 0, 0, 'init.scope'),
        host.Process(2, 0, 'kthreadd', 0, 0, None),
        host.Process(10, 1, 'postgres', -500, 0, 'postgresql@15-main.service'),
        host.Process(840, 1, 'sshd', -1000, 0, 'ssh.service'),
        host.Process(900, 899, 'bash', -1000, 34816, 'session-3.scope'),
    ]


def test_pid_order_is_numeric(proc):
    for pid in (100, 9, 20):
        fake_process(proc, pid, b'x', 0, V2 % b'x.service')
    assert [p.pid for p in host.read_processes()] == [9, 20, 100]


def test_a_name_with_spaces_and_parentheses(proc):
    fake_process(proc, 77, b'', 200, V2 % b'a.service', stat=b'77 (Web (Content) x) R 5 77 77 0 -1 0\n')
    assert host.read_processes() == [host.Process(77, 5, 'Web (Content) x', 200, 0, 'a.service')]


@pytest.mark.parametrize('cgroup, unit', [
    # the last .service or .scope: a process in a sub-cgroup of its service, a user's service under user@
    (b'0::/system.slice/postgresql@15-main.service/backends\n', 'postgresql@15-main.service'),
    (b'0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.service\n', 'app-foo.service'),
    (b'0::/system.slice/docker-0123abcd.scope\n', 'docker-0123abcd.scope'),
    # cgroup v1: the name=systemd hierarchy; a hybrid host's empty unified line does not hide it
    (V1 % (b'ssh.service', b'ssh.service'), 'ssh.service'),
    (b'1:name=systemd:/user.slice/user-0.slice/session-c2.scope\n', 'session-c2.scope'),
    # no unit: kernel threads, the root cgroup, a controller's hierarchy alone
    (b'0::/\n', None),
    (b'12:memory:/system.slice/ssh.service\n', None),
    (b'0::/system.slice\n', None),
])
def test_unit_from_cgroup(proc, cgroup, unit):
    fake_process(proc, 5, b'x', 0, cgroup)
    assert host.read_processes()[0].unit == unit


@pytest.mark.parametrize('missing', ['stat', 'oom_score_adj', 'cgroup'])
def test_a_process_that_ends_while_being_read_is_skipped(proc, missing):
    fake_process(proc, 5, b'kept', 0, V2 % b'a.service')
    (fake_process(proc, 6, b'gone', 0, V2 % b'b.service') / missing).unlink()
    assert [p.comm for p in host.read_processes()] == ['kept']


def test_empty_files_of_an_exiting_process_are_skipped(proc):
    fake_process(proc, 5, b'kept', 0, V2 % b'a.service')
    (fake_process(proc, 6, b'zombie', 0, V2 % b'b.service') / 'oom_score_adj').write_bytes(b'')
    (fake_process(proc, 7, b'dying', 0, V2 % b'c.service') / 'stat').write_bytes(b'')
    assert [p.comm for p in host.read_processes()] == ['kept']


def test_an_unreadable_process_is_skipped(proc, monkeypatch):
    fake_process(proc, 5, b'kept', 0, V2 % b'a.service')
    fake_process(proc, 6, b'hidden', 0, V2 % b'b.service')
    read_bytes = host.read_bytes

    def refuse(path, missing=b''):
        if '/6/' in path:
            raise OSError(3, 'No such process')  # ESRCH: the kernel's answer for a task that is exiting
        return read_bytes(path, missing)
    monkeypatch.setattr(host, 'read_bytes', refuse)
    assert [p.comm for p in host.read_processes()] == ['kept']


def test_no_proc_is_an_error_for_the_caller(tmp_path, monkeypatch):
    monkeypatch.setattr(host, 'PROC', str(tmp_path / 'nothing'))
    with pytest.raises(OSError):
        host.read_processes()
