# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""protection_findings: each protected service against each killer, the sshd trap, systemd-oomd without swap."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import lmk_findings
from ansible_collections.lowmem.hardening.plugins.module_utils import oom_protect
from ansible_collections.lowmem.hardening.plugins.module_utils import protection_findings as protection
from ansible_collections.lowmem.hardening.plugins.module_utils.host import Process

PAGE = 4096
MIB = 1024 * 1024
DEFAULT_TABLE = lmk_findings.thresholds({'adj': [0, 1, 6, 12], 'minfree': [1536, 2048, 4096, 16384]}, PAGE, 512 * MIB)
LOW_TABLE = lmk_findings.thresholds({'adj': [-900, 0], 'minfree': [1536, 4096]}, PAGE, 512 * MIB)
ALL_KILLERS = ['oom-killer', 'lowmemorykiller', 'systemd-oomd', 'earlyoom']
TTY = 34816  # /dev/pts/0


def dropin(unit, level, oomd=True):
    plan = oom_protect.plan_unit(unit, level, ['systemd-oomd'] if oomd and level != 'prefer' else [])
    return oom_protect.render_dropin(plan)


def proc(pid, comm, adj, unit, ppid=1, tty=0):
    return Process(pid, ppid, comm, adj, tty, unit)


# A Debian 12 host: the listener at -1000 by its own doing, a session under it, postgres at avoid.
SYSTEMD = proc(1, 'systemd', 0, 'init.scope', ppid=0)
LISTENER = proc(840, 'sshd', -1000, 'ssh.service')
POSTGRES = [proc(812, 'postgres', -500, 'postgresql@15-main.service'),
            proc(813, 'postgres', -500, 'postgresql@15-main.service', ppid=812)]


def session(adj, unit='session-3.scope', names=('sshd', 'sshd', 'bash')):
    """An ssh login: the privileged sshd, the user's sshd, the shell (as OpenSSH before 9.8 runs them)."""
    priv, user, shell = names
    return [proc(2000, priv, adj, unit, ppid=840), proc(2010, user, adj, unit, ppid=2000),
            proc(2011, shell, adj, unit, ppid=2010, tty=TTY)]


def killer(name, running=True, **extra):
    return dict({'name': name, 'installed': True, 'running': running, 'pids': [845] if running else [],
                 'thresholds': {}, 'config': None}, **extra)


def codes(found):
    return [f['code'] for f in found]


def by_code(found, code):
    matching = [f for f in found if f['code'] == code]
    assert len(matching) == 1, codes(found)
    return matching[0]


# ---------------------------------------------------------------------------
# Each unit against each killer

def test_present_killers_in_a_fixed_order():
    assert protection.present_killers(False, []) == ['oom-killer']
    killers = [killer('earlyoom', running=False), killer('nohang'), killer('systemd-oomd'), killer('lmkd')]
    assert protection.present_killers(True, killers) == ALL_KILLERS


@pytest.mark.parametrize('adj, effect', [(-1000, 'protect'), (-999, 'avoid'), (-1, 'avoid'), (0, 'none'),
                                         (1, 'prefer'), (1000, 'prefer')])
def test_adj_effect(adj, effect):
    assert protection.adj_effect(adj) == effect


def test_an_avoided_service_on_a_host_with_every_killer():
    args = ['-r', '3600', '--avoid', '^(postgres|sshd)$', '--prefer', '^(batch)$']
    entries = protection.protection({'postgresql@15-main.service': dropin('postgresql@15-main.service', 'avoid')},
                                    POSTGRES + [LISTENER, SYSTEMD], ALL_KILLERS, DEFAULT_TABLE, args)
    assert entries == [{
        'unit': 'postgresql@15-main.service', 'level': 'avoid',
        'processes': [{'pid': 812, 'name': 'postgres', 'oom_score_adj': -500},
                      {'pid': 813, 'name': 'postgres', 'oom_score_adj': -500}],
        'killers': {
            'oom-killer': {'effect': 'avoid', 'value': -500},
            'lowmemorykiller': {'effect': 'protect', 'value': -500, 'threshold': None},
            'systemd-oomd': {'effect': 'avoid', 'value': 'avoid'},
            'earlyoom': {'effect': 'avoid', 'value': '--avoid ^(postgres|sshd)$'},
        }}]


def test_only_the_killers_present_are_reported():
    entries = protection.protection({'a.service': dropin('a.service', 'protect', oomd=False)},
                                    [proc(5, 'a', -1000, 'a.service')], ['oom-killer'], [], [])
    assert entries[0]['killers'] == {'oom-killer': {'effect': 'protect', 'value': -1000}}


def test_a_service_is_as_protected_as_its_most_exposed_process():
    processes = [proc(5, 'a', -1000, 'a.service'), proc(6, 'a-worker', 0, 'a.service')]
    entry = protection.unit_protection('a.service', dropin('a.service', 'protect'), processes, ALL_KILLERS,
                                       DEFAULT_TABLE, ['--avoid', '^a$'])
    assert entry['killers']['oom-killer'] == {'effect': 'none', 'value': 0}
    assert entry['killers']['lowmemorykiller']['effect'] == 'none'
    assert entry['killers']['earlyoom'] == {'effect': 'none', 'value': None}  # a-worker does not match ^a$
    assert entry['killers']['systemd-oomd'] == {'effect': 'protect', 'value': 'omit'}  # the whole cgroup


def test_a_service_that_does_not_run():
    entry = protection.unit_protection('a.service', dropin('a.service', 'avoid'), [LISTENER], ALL_KILLERS,
                                       DEFAULT_TABLE, ['--avoid', '^a$'])
    assert entry['processes'] == []
    assert entry['killers'] == {
        'oom-killer': {'effect': None, 'value': None},
        'lowmemorykiller': {'effect': None, 'value': None, 'threshold': None},
        'systemd-oomd': {'effect': 'avoid', 'value': 'avoid'},  # from the drop-in, for its next start
        'earlyoom': {'effect': None, 'value': None},
    }


@pytest.mark.parametrize('adj, effect, row_adj, pages', [
    (-1000, 'protect', None, None),
    (-901, 'protect', None, None),
    (-900, 'avoid', -900, 1536),
    (0, 'none', 0, 4096),  # the highest minfree whose adj is at most 0
])
def test_lowmemorykiller_row_that_reaches_a_service(adj, effect, row_adj, pages):
    entry = protection.lmk_entry([proc(5, 'a', adj, 'a.service')], LOW_TABLE)
    assert (entry['effect'], entry['value']) == (effect, adj)
    threshold = entry['threshold']
    assert (threshold and threshold['adj'], threshold and threshold['minfree_pages']) == (row_adj, pages)


def test_lowmemorykiller_reaches_minus_1000_only_from_a_row_of_minus_1000():
    table = lmk_findings.thresholds({'adj': [-1000, 0], 'minfree': [1536, 4096]}, PAGE, 512 * MIB)
    entry = protection.lmk_entry([proc(5, 'a', -1000, 'a.service')], table)
    assert (entry['effect'], entry['threshold']['adj']) == ('avoid', -1000)  # a candidate, if the last one


def test_lowmemorykiller_without_a_table_reaches_nothing():
    assert protection.lmk_entry([proc(5, 'a', 1000, 'a.service')], [])['effect'] == 'protect'


@pytest.mark.parametrize('text, effect, value', [
    ('[Service]\nManagedOOMPreference=omit\n', 'protect', 'omit'),
    ('[Service]\nManagedOOMPreference=avoid\n', 'avoid', 'avoid'),
    ('[Service]\nOOMScoreAdjust=500\n', 'none', None),  # written before systemd-oomd was installed
])
def test_systemd_oomd_reads_the_preference(text, effect, value):
    assert protection.oomd_entry(text) == {'effect': effect, 'value': value}


@pytest.mark.parametrize('args, expected', [
    ([], {}),
    (['--avoid', '^(a)$', '-m', '5'], {'--avoid': '^(a)$'}),
    (['--avoid=^(a)$', '--prefer', '^(b)$'], {'--avoid': '^(a)$', '--prefer': '^(b)$'}),
    (['--avoid', 'x', '--avoid', 'y'], {'--avoid': 'y'}),
    (['--prefer'], {}),
])
def test_earlyoom_expressions(args, expected):
    assert protection.earlyoom_expressions(args) == expected


@pytest.mark.parametrize('expressions, effect, value', [
    ({'--avoid': '^(postgres)$'}, 'avoid', '--avoid ^(postgres)$'),
    ({'--prefer': 'gres'}, 'prefer', '--prefer gres'),
    ({'--avoid': '^(postgres)$', '--prefer': 'post'}, 'none', None),  # +300 and -300
    ({'--avoid': '^(post)$'}, 'none', None),
    ({'--avoid': '(unclosed'}, 'none', None),
])
def test_earlyoom_matches_process_names(expressions, effect, value):
    assert protection.earlyoom_entry(POSTGRES, expressions) == {'effect': effect, 'value': value}


def test_a_file_without_the_header_is_not_ours():
    assert protection.protection({'a.service': '[Service]\nOOMScoreAdjust=-1000\n'}, [], ALL_KILLERS, [], []) == []


# ---------------------------------------------------------------------------
# Login sessions

def test_a_session_started_by_a_protected_ssh_service_is_unkillable():
    processes = [SYSTEMD, LISTENER] + session(-1000)
    assert protection.unkillable_sessions(processes) == [('session-3.scope', 'ssh.service', session(-1000))]


def test_ssh_is_as_protected_as_its_listener_not_its_sessions():
    """Without pam_systemd the sessions stay in ssh.service, at 0 as they should: ssh is still protected."""
    processes = [SYSTEMD, LISTENER] + session(0, unit='ssh.service')
    entry = protection.unit_protection('ssh.service', dropin('ssh.service', 'protect', oomd=False), processes,
                                       ['oom-killer'], [], [])
    assert [p['pid'] for p in entry['processes']] == [840]
    assert entry['killers']['oom-killer'] == {'effect': 'protect', 'value': -1000}
    other = protection.unit_protection('ssh.service', dropin('ssh.service', 'protect', oomd=False),
                                       [SYSTEMD, proc(840, 'sshd', 0, 'ssh.service')], ['oom-killer'], [], [])
    assert other['killers']['oom-killer'] == {'effect': 'none', 'value': 0}


def test_a_healthy_session_under_a_self_protecting_listener():
    assert protection.unkillable_sessions([SYSTEMD, LISTENER] + session(0)) == []


def test_sessions_without_scopes_are_found_by_their_sshd():
    # a container without pam_systemd: everything stays in ssh.service
    processes = [SYSTEMD, LISTENER] + session(-1000, unit='ssh.service')
    groups = protection.unkillable_sessions(processes)
    assert [(where, service, [p.pid for p in members]) for where, service, members in groups] == [
        ('ssh.service', 'ssh.service', [2010, 2011])]  # not the privileged sshd: a child of the listener, as
    # the per-connection sshd before login is


def test_openssh_9_8_sessions():
    processes = [SYSTEMD, LISTENER] + session(-1000, unit='ssh.service', names=('sshd-session', 'sshd-session', 'vi'))
    assert [p.comm for p in protection.unkillable_sessions(processes)[0][2]] == ['sshd-session', 'vi']


def test_a_shell_needs_a_terminal_outside_a_session():
    script = proc(50, 'bash', -1000, 'backup.service')
    console = proc(51, 'bash', -1000, 'console-getty.service', tty=1025)
    assert protection.unkillable_sessions([SYSTEMD, script, console]) == [
        ('console-getty.service', 'console-getty.service', [console])]


def test_the_listener_and_daemons_at_minus_1000_are_no_sessions():
    daemons = [proc(300, 'systemd-udevd', -1000, 'systemd-udevd.service'), proc(301, 'sh', -1000, 'a.service')]
    assert protection.unkillable_sessions([SYSTEMD, LISTENER] + daemons) == []


def test_a_starting_service_is_unknown_without_ancestors_in_one():
    orphan = proc(60, 'zsh', -1000, 'session-9.scope', ppid=59, tty=TTY)
    assert protection.unkillable_sessions([orphan]) == [('session-9.scope', None, [orphan])]


def test_a_loop_in_parents_ends():
    a, b = proc(70, 'cat', 0, None, ppid=71), proc(71, 'tee', 0, None, ppid=70)
    assert protection.is_login_session(a, {70: a, 71: b}) is False
    assert protection.starting_service(a, {70: a, 71: b}) is None
    c, d = proc(72, 'sshd', 0, 'x.service', ppid=73), proc(73, 'sshd', 0, 'y.service', ppid=72)
    assert protection.is_login_session(c, {72: c, 73: d}) is True  # 73 is an sshd started by an sshd
    assert protection.starting_service(proc(74, 'vi', 0, None, ppid=72), {72: c, 73: d}) == 'x.service'


# ---------------------------------------------------------------------------
# Findings

def test_the_sshd_trap():
    found = protection.findings({'processes': [SYSTEMD, LISTENER] + session(-1000)})
    trap = by_code(found, 'sshd_trap')
    assert trap['severity'] == 'warning'
    assert trap['message'] == (
        'Login sessions run at oom_score_adj -1000: sshd (pid 2000), sshd (pid 2010), bash (pid 2011) in '
        'session-3.scope. They and everything started from them can never be killed by the OOM killer, so a runaway '
        'command there makes it kill services instead. OOMScoreAdjust=-1000 on the service that starts sessions '
        '(ssh.service) leaks into them, as every child inherits its parent\'s oom_score_adj. Remove that setting: '
        'OpenSSH keeps its listener at -1000 by itself and gives sessions the value it started with. Sessions opened '
        'after the fix are killable again.')


def test_the_sshd_trap_names_each_place_and_counts_the_rest():
    many = [proc(3000 + n, 'bash', -1000, 'session-7.scope', ppid=3000 + n - 1, tty=TTY) for n in range(5)]
    found = protection.findings({'processes': [SYSTEMD, LISTENER] + session(-1000, unit='ssh.service') + many})
    message = by_code(found, 'sshd_trap')['message']
    assert ('run at oom_score_adj -1000: sshd (pid 2010), bash (pid 2011) in ssh.service; bash (pid 3000), '
            'bash (pid 3001), bash (pid 3002) and 2 more in session-7.scope.') in message
    assert '(ssh.service) leaks' in message


def test_no_trap_without_sessions_at_minus_1000():
    assert protection.findings({'processes': [SYSTEMD, LISTENER] + session(-999)}) == []


def entries_with(table, adj, level='avoid'):
    processes = [proc(5, 'postgres', adj, 'postgresql@15-main.service')]
    return protection.protection({'postgresql@15-main.service': dropin('postgresql@15-main.service', level)},
                                 processes, ALL_KILLERS, table, [])


def test_lowmemorykiller_reaches_a_protected_service():
    found = protection.findings({'protection': entries_with(LOW_TABLE, -500)})
    warning = by_code(found, 'lmk_reaches_protected')
    assert warning['severity'] == 'warning'
    assert warning['message'] == (
        'lowmemorykiller can still kill protected services: postgresql@15-main.service (level avoid, oom_score_adj '
        '-500) from the row minfree 1536 pages (6 MiB) for adj >= -900. Once free memory and the file cache both '
        'fall below that minfree, every process with oom_score_adj at or above the row\'s adj is a candidate. Keep '
        'the lowest adj of the table above the services\' values (lowmem.hardening.lowmemorykiller), or disable it.')


@pytest.mark.parametrize('table, adj, level', [
    (DEFAULT_TABLE, -500, 'avoid'),  # below the lowest adj, 0
    (LOW_TABLE, -901, 'protect'),
    (LOW_TABLE, 500, 'prefer'),  # reached, as asked
    ([], -500, 'avoid'),  # no driver, or no table
])
def test_lowmemorykiller_leaves_the_service_alone(table, adj, level):
    assert protection.findings({'protection': entries_with(table, adj, level)}) == []


def test_lowmemorykiller_reaches_a_service_at_its_lowest_adj():
    assert codes(protection.findings({'protection': entries_with(LOW_TABLE, -900, 'protect')})) == [
        'lmk_reaches_protected']


def no_swap(total=0, swaps=None):
    return {'swap_total_bytes': total, 'swaps': swaps or []}


def test_systemd_oomd_without_swap():
    oomd = killer('systemd-oomd', thresholds=lmk_findings.oomd_thresholds(['[OOM]\nSwapUsedLimit=80%\n']))
    info = by_code(protection.findings({'killers': [oomd], 'memory': no_swap()}), 'oomd_no_swap')
    assert info['severity'] == 'info'
    assert info['message'] == (
        'systemd-oomd is running (pid 845) but no swap is active: its SwapUsedLimit=80% never triggers, so it cannot '
        'act on swap pressure, only on the memory pressure of cgroups with ManagedOOMMemoryPressure=kill (above 60% '
        'for 30s). When memory runs out faster than that, the kernel OOM killer acts first.')


@pytest.mark.parametrize('killers, memory', [
    ([killer('systemd-oomd')], no_swap(total=MIB)),
    ([killer('systemd-oomd')], no_swap(swaps=[{'filename': '/swapfile'}])),
    ([killer('systemd-oomd', running=False)], no_swap()),  # installed only
    ([killer('earlyoom')], no_swap()),
])
def test_no_oomd_finding_with_swap_or_without_oomd_running(killers, memory):
    assert protection.findings({'killers': killers, 'memory': memory}) == []


def test_assess_includes_the_protection_findings_warnings_first():
    facts = {'present': False, 'path': '/x', 'memory': {'mem_total_bytes': 8 * 1024 * MIB, 'swap_total_bytes': 0,
                                                        'swaps': []},
             'killers': [killer('systemd-oomd')], 'processes': [SYSTEMD, LISTENER] + session(-1000)}
    assert codes(lmk_findings.assess(facts)) == ['sshd_trap', 'lmk_absent', 'no_swap', 'systemd_oomd_running',
                                                 'oomd_no_swap']
