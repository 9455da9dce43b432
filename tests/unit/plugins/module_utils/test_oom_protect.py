# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each killer reads for each protection level: pure logic, no host."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re
import subprocess

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import oom_protect as protect


def test_unit_names():
    assert protect.unit_of('postgresql') == 'postgresql.service'
    assert protect.unit_of('my-batch@1.service') == 'my-batch@1.service'
    for other in ('machine.slice', 'ssh.socket', 'multi-user.target'):
        with pytest.raises(protect.ProtectError, match='^services: %s is not a service' % re.escape(other)):
            protect.unit_of(other)
    for bad in ('../etc', 'a b', '', '-x', 5, 'x/y'):
        with pytest.raises(protect.ProtectError, match=r'^services: .* is not a systemd unit name'):
            protect.unit_of(bad)


def test_check_services():
    assert protect.check_services({'ssh': 'protect', 'postgresql': 'avoid', 'my-batch': 'prefer'}) == [
        ('my-batch.service', 'prefer'), ('postgresql.service', 'avoid'), ('ssh.service', 'protect')]
    with pytest.raises(protect.ProtectError, match=r"^services.ssh: 'never' is not a level; use protect, avoid, prefer"):
        protect.check_services({'ssh': 'never'})
    with pytest.raises(protect.ProtectError, match='^services: ssh.service is named twice'):
        protect.check_services({'ssh': 'protect', 'ssh.service': 'avoid'})
    with pytest.raises(protect.ProtectError, match='^services: give a dict'):
        protect.check_services(['ssh'])


@pytest.mark.parametrize('level, killers, expected', [
    ('protect', set(), (-1000, None, None)),
    ('avoid', set(), (-500, None, None)),
    ('prefer', set(), (500, None, None)),
    ('protect', {'systemd-oomd', 'earlyoom'}, (-1000, 'omit', '--avoid')),
    ('avoid', {'systemd-oomd'}, (-500, 'avoid', None)),
    ('prefer', {'earlyoom'}, (500, None, '--prefer')),
])
def test_each_killer_gets_what_it_reads(level, killers, expected):
    plan = protect.plan_unit('postgresql.service', level, killers)
    assert (plan.score_adjust, plan.oomd_preference, plan.earlyoom) == expected


def test_oomd_cannot_prefer():
    with pytest.raises(protect.ProtectError, match='^services.my-batch.service: systemd-oomd cannot honour prefer'):
        protect.plan_unit('my-batch.service', 'prefer', {'systemd-oomd'})


def test_the_sshd_trap_is_avoided_by_design():
    """ssh is protected by OpenSSH itself: nothing a session could inherit is written."""
    plan = protect.plan_unit('ssh.service', 'protect', {'systemd-oomd', 'earlyoom'})
    assert plan.score_adjust is None and plan.oomd_preference == 'omit' and plan.earlyoom == '--avoid'
    assert protect.unit_setting([protect.render_dropin(plan)], 'OOMScoreAdjust') is None
    text = protect.render_dropin(protect.plan_unit('ssh.service', 'protect', set()))
    assert protect.level_of_dropin(text) == 'protect' and protect.unit_setting([text], 'OOMScoreAdjust') is None
    for level in ('avoid', 'prefer'):
        with pytest.raises(protect.ProtectError, match='^services.ssh.service: only protect is possible'):
            protect.plan_unit('ssh.service', level, set())


@pytest.mark.parametrize('unit', ['cron.service', 'atd.service', 'getty@tty1.service', 'serial-getty@ttyS0.service',
                                  'user@1000.service'])
def test_units_that_start_users_work_are_refused(unit):
    with pytest.raises(protect.ProtectError, match='would inherit its oom_score_adj'):
        protect.plan_unit(unit, 'protect', set())


def test_render_dropin():
    text = protect.render_dropin(protect.plan_unit('postgresql.service', 'avoid', {'systemd-oomd'}))
    assert text == ('# Managed by lowmem.hardening.oom_protect: avoid. Local changes are overwritten.\n'
                    '[Service]\nOOMScoreAdjust=-500\nManagedOOMPreference=avoid\n')


def test_names_regex_matches_exactly_the_names():
    regex = protect.names_regex(['sshd', 'postgres', 'sshd', 'a.b'])
    assert regex == r'^(a\.b|postgres|sshd)$'
    assert [name for name in ('sshd', 'postgres', 'a.b', 'axb', 'sshd2', 'xsshd') if re.match(regex, name)] == [
        'sshd', 'postgres', 'a.b']
    assert protect.names_regex([]) is None


def test_earlyoom_args_keep_the_users_own_and_come_back_out():
    users = ['-m', '5', '--avoid', '(^|/)(Xorg)$', '-r', '3600']
    merged = protect.merge_earlyoom_args(users, '--avoid', None, '^(sshd)$')
    assert merged == ['-m', '5', '--avoid', '^(sshd)$|(^|/)(Xorg)$', '-r', '3600']
    assert protect.merge_earlyoom_args(merged, '--avoid', '^(sshd)$', '^(postgres|sshd)$') == [
        '-m', '5', '--avoid', '^(postgres|sshd)$|(^|/)(Xorg)$', '-r', '3600']
    assert protect.merge_earlyoom_args(merged, '--avoid', '^(sshd)$', None) == users
    # --flag=value form, and a flag the user never gave
    assert protect.merge_earlyoom_args(['--prefer=^(chrome)$'], '--prefer', None, '^(batch)$') == [
        '--prefer', '^(batch)$|^(chrome)$']
    assert protect.merge_earlyoom_args(['-m', '5'], '--prefer', None, '^(batch)$') == ['-m', '5', '--prefer', '^(batch)$']
    assert protect.merge_earlyoom_args(['-m', '5', '--prefer', '^(batch)$'], '--prefer', '^(batch)$', None) == ['-m', '5']


def test_parse_show_reads_several_units():
    text = ('Id=a.service\nLoadState=loaded\nExecStart={ path=/usr/bin/a ; argv[]=/usr/bin/a -x ; }\n\n'
            'Id=b.service\nLoadState=not-found\nOOMScoreAdjust=\n')
    units = protect.parse_show(text)
    assert [unit['Id'] for unit in units] == ['a.service', 'b.service']
    assert units[1] == {'Id': 'b.service', 'LoadState': 'not-found', 'OOMScoreAdjust': ''}
    assert protect.process_name('a.service', units[0]['ExecStart']) == 'a'


def test_process_names_are_what_the_kernel_keeps():
    start = '{ path=/usr/lib/postgresql/15/bin/postgres ; argv[]=/usr/lib/postgresql/15/bin/postgres -D x ; }'
    assert protect.process_name('postgresql@15-main.service', start) == 'postgres'
    assert protect.process_name('monitoring-agent@eu.service', '') == 'monitoring-agen'  # 15 bytes, no instance
    assert protect.names_regex(['b.x', 'a-b', 'b.x']) == r'^(a-b|b\.x)$'
    assert protect.names_regex([]) is None


EARLYOOM_FILE = '# user comment\nEARLYOOM_ARGS="-r 3600 -m 5 --prefer ^(chromium)$"\nOTHER=1\n'


def test_earlyoom_defaults_keep_the_users_own():
    args, ours = protect.read_earlyoom_defaults(EARLYOOM_FILE)
    assert (args, ours) == (['-r', '3600', '-m', '5', '--prefer', '^(chromium)$'], {})
    args = protect.merge_earlyoom_args(args, '--avoid', None, '^(sshd)$')
    args = protect.merge_earlyoom_args(args, '--prefer', None, '^(batch)$')
    text = protect.render_earlyoom_defaults(EARLYOOM_FILE, args, {'--avoid': '^(sshd)$', '--prefer': '^(batch)$'})
    assert text == ('# user comment\n# lowmem.hardening.oom_protect wrote: --avoid ^(sshd)$ --prefer ^(batch)$\n'
                    'EARLYOOM_ARGS="-r 3600 -m 5 --prefer ^(batch)$|^(chromium)$ --avoid ^(sshd)$"\nOTHER=1\n')
    args, ours = protect.read_earlyoom_defaults(text)
    assert ours == {'--avoid': '^(sshd)$', '--prefer': '^(batch)$'}
    for flag in ('--avoid', '--prefer'):
        args = protect.merge_earlyoom_args(args, flag, ours[flag], None)
    assert protect.render_earlyoom_defaults(text, args, {}) == ('# user comment\nEARLYOOM_ARGS="-r 3600 -m 5 --prefer '
                                                                '^(chromium)$"\nOTHER=1\n')
    assert protect.render_earlyoom_defaults(None, ['-r', '60'], {}) == 'EARLYOOM_ARGS="-r 60"\n'


@pytest.mark.parametrize('args', [
    ['--avoid', r'^(a\.b|c)$|^x$'],
    ['--prefer', '^(a$b|$(touch x)|`id`|"q"|\\)$'],
    ['-r', '3600', '--avoid', '^($HOME)$\\'],
])
def test_sh_reads_back_what_was_written(tmp_path, args):
    """Debian's init script sources the file with sh; systemd's EnvironmentFile= reads it the same way."""
    path = tmp_path / 'earlyoom'
    path.write_text(protect.render_earlyoom_defaults('', args, {}))
    shown = subprocess.run(['sh', '-c', '. "$1"; printf %s "$EARLYOOM_ARGS"', 'sh', str(path)], check=True,
                           stdout=subprocess.PIPE, env={'HOME': '/nowhere'}, cwd=str(tmp_path)).stdout.decode()
    assert shown == ' '.join(args)
    assert protect.read_earlyoom_defaults(path.read_text())[0] == ' '.join(args).split()
    assert not (tmp_path / 'x').exists()


def test_unit_setting_takes_the_last_assignment():
    assert protect.unit_setting(['[Service]\nOOMScoreAdjust=-900\n', '[Service]\nOOMScoreAdjust=100\n'],
                                'OOMScoreAdjust') == '100'
    assert protect.unit_setting(['[Service]\nOOMScoreAdjust=-900\n', '[Service]\nOOMScoreAdjust=\n'],
                                'OOMScoreAdjust') is None
    assert protect.unit_setting(['[Service]\nExecStart=/x\n'], 'OOMScoreAdjust') is None


def test_only_processes_with_the_units_value_change():
    processes = [(1, 'postgres', -900), (2, 'postgres', 0), (3, 'sshd', -1000)]
    assert protect.processes_to_change(processes, {-900}, -500) == [(1, 'postgres', -900, -500)]
    assert protect.processes_to_change(processes, {-900, 0}, -500) == [(1, 'postgres', -900, -500),
                                                                       (2, 'postgres', 0, -500)]
    assert protect.processes_to_change(processes, {-900}, -900) == []


def test_honoured_by_and_dropin_levels():
    killers = {'lowmemorykiller', 'earlyoom'}
    assert protect.honoured_by(protect.plan_unit('a.service', 'avoid', killers), killers) == [
        'oom-killer', 'lowmemorykiller', 'earlyoom']
    assert protect.honoured_by(protect.plan_unit('ssh.service', 'protect', set()), set()) == ['oom-killer']
    text = protect.render_dropin(protect.plan_unit('a.service', 'prefer', set()))
    assert protect.level_of_dropin(text) == 'prefer'
    assert protect.level_of_dropin('[Service]\nOOMScoreAdjust=1\n') is None
