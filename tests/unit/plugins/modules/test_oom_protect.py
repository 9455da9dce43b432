# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lowmem.hardening.oom_protect against a fake systemd, /proc and cgroup tree in tmp_path.

The fake systemctl answers `show` from the unit files on disk as of its last daemon-reload, as systemd does:
the fragment, then the drop-ins sorted by name, the last OOMScoreAdjust= winning.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import errno
import os
import stat

import pytest

from ansible.module_utils import basic

from ansible_collections.lowmem.hardening.plugins.module_utils import host as host_layer
from ansible_collections.lowmem.hardening.plugins.module_utils import oom_protect as protect
from ansible_collections.lowmem.hardening.plugins.modules import oom_protect as module
from ansible_collections.lowmem.hardening.tests.unit.plugins.modules.utils import run_module

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='lowmem.hardening.oom_protect runs as root only')

EARLYOOM_DEFAULTS = '# Options for earlyoom\nEARLYOOM_ARGS="-r 3600 --avoid ^(myagent)$"\n'
# unit: (ExecStart binary, its own OOMScoreAdjust= or None, [(pid, comm, oom_score_adj)])
UNITS = {
    'postgresql@15-main.service': ('/usr/lib/postgresql/15/bin/postgres', -900,
                                   [(812, 'postgres', -900), (830, 'postgres', 0)]),
    'my-batch.service': ('/usr/local/bin/batchjob', None, [(901, 'batchjob', 0)]),
    'ssh.service': ('/usr/sbin/sshd', None, [(500, 'sshd', -1000), (1200, 'sshd', 0), (1201, 'bash', 0)]),
    'cron.service': ('/usr/sbin/cron', None, [(400, 'cron', 0)]),
    'earlyoom.service': ('/usr/bin/earlyoom', None, [(300, 'earlyoom', 0)]),
}


class FakeSystemd(object):
    def __init__(self, root, installed, active=('earlyoom.service',)):
        self.root = root
        self.installed = dict((unit, UNITS[unit]) for unit in installed)
        self.active = set(active)
        self.calls = []
        self.fail = {}
        self.aliases = {'sshd.service': 'ssh.service'}  # as Debian's openssh-server links them
        for unit, (binary, own, _processes) in self.installed.items():
            text = '[Service]\nExecStart=%s\n' % binary
            write(self.fragment(unit), text + ('OOMScoreAdjust=%d\n' % own if own is not None else ''))
        self.reload()

    def fragment(self, unit):
        return os.path.join(self.root, 'lib', unit)

    def reload(self):
        self.loaded = {}
        for unit in list(self.installed) + list(getattr(self, 'aliases', {})):
            directory = os.path.join(module.UNIT_DIRECTORY, unit + '.d')
            dropins = sorted(os.path.join(directory, name) for name in os.listdir(directory)) \
                if os.path.isdir(directory) else []
            texts = [read(path) for path in [self.fragment(self.aliases.get(unit, unit))] + dropins]
            self.loaded[unit] = (dropins, protect.unit_setting(texts, 'OOMScoreAdjust'))

    def show(self, unit):
        alias = unit
        unit = self.aliases.get(unit, unit)
        if unit not in self.installed:
            return 'Id=%s\nLoadState=not-found\nActiveState=inactive\nOOMScoreAdjust=\n' % unit
        dropins, value = self.loaded[alias] if alias in self.loaded else self.loaded[unit]
        return ('Id=%s\nLoadState=loaded\nActiveState=%s\nControlGroup=/system.slice/%s\nExecStart={ path=%s ; '
                'argv[]=%s ; ignore_errors=no }\nOOMScoreAdjust=%s\nFragmentPath=%s\nDropInPaths=%s\n'
                % (unit, 'active' if unit in self.active else 'inactive', unit, self.installed[unit][0],
                   self.installed[unit][0],
                   value or '0', self.fragment(unit), ' '.join(dropins)))

    def run_command(self, argv, **kwargs):
        self.calls.append(list(argv))
        verb = argv[1]
        if verb in self.fail:
            return 1, '', self.fail[verb]
        if verb == 'show':
            return 0, '\n'.join(self.show(unit) for unit in argv[argv.index('--') + 1:]), ''
        if verb == 'daemon-reload':
            self.reload()
        return 0, '', ''

    def verbs(self):
        return [call[1] for call in self.calls]


def write(path, text):
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    with open(path, 'w') as handle:
        handle.write(text)


def read(path):
    with open(path) as handle:
        return handle.read()


def tree(root):
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            found[os.path.relpath(path, root)] = (read(path) if name in filenames else 'dir',
                                                  stat.S_IMODE(st.st_mode), st.st_uid)
    return found


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A host with systemd, earlyoom installed and running, and the units of UNITS with their processes."""
    root = str(tmp_path)
    monkeypatch.setattr(module, 'SYSTEMD_RUNTIME', os.path.join(root, 'run', 'systemd', 'system'))
    monkeypatch.setattr(module, 'UNIT_DIRECTORY', os.path.join(root, 'etc', 'systemd', 'system'))
    monkeypatch.setattr(module, 'EARLYOOM_DEFAULTS', os.path.join(root, 'etc', 'default', 'earlyoom'))
    monkeypatch.setattr(module, 'LMK_PARAMETERS', os.path.join(root, 'lowmemorykiller', 'parameters'))
    monkeypatch.setattr(host_layer, 'PROC', os.path.join(root, 'proc'))
    os.makedirs(module.SYSTEMD_RUNTIME)
    os.makedirs(module.UNIT_DIRECTORY)
    os.makedirs(module.LMK_PARAMETERS)
    write(module.EARLYOOM_DEFAULTS, EARLYOOM_DEFAULTS)
    write(os.path.join(root, 'proc', 'self', 'status'), 'Name:\tpython3\nCapEff:\t000001ffffffffff\n')
    for unit, (_binary, _own, processes) in UNITS.items():
        for pid, name, adj in processes:
            write(os.path.join(root, 'proc', str(pid), 'stat'), '%d (%s) S 1 %d %d 0 -1 4194560\n' % (pid, name, pid, pid))
            write(os.path.join(root, 'proc', str(pid), 'cgroup'), '0::/system.slice/%s\n' % unit)
            write(os.path.join(root, 'proc', str(pid), 'oom_score_adj'), '%d\n' % adj)
    systemd = FakeSystemd(root, list(UNITS))
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, argv, **kw: systemd.run_command(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, required=False: '/usr/bin/' + name)
    systemd.etc = os.path.join(root, 'etc')
    return systemd


def run(monkeypatch, check_mode=False, diff=False, **args):
    return run_module(module.main, args, check_mode=check_mode, diff=diff, monkeypatch=monkeypatch)


def adj(fake, pid):
    return int(read(os.path.join(host_layer.PROC, str(pid), 'oom_score_adj')))


def dropin(unit):
    return os.path.join(module.UNIT_DIRECTORY, unit + '.d', protect.DROPIN_NAME)


SERVICES = {'ssh': 'protect', 'postgresql@15-main': 'avoid', 'my-batch': 'prefer'}


def test_protects_each_service_from_each_killer(fake, monkeypatch):
    result = run(monkeypatch, services=SERVICES)
    assert result['changed'] and not result.get('failed'), result
    assert result['killers'] == ['oom-killer', 'lowmemorykiller', 'earlyoom']
    assert read(dropin('postgresql@15-main.service')).endswith('[Service]\nOOMScoreAdjust=-500\n')
    assert read(dropin('my-batch.service')).endswith('[Service]\nOOMScoreAdjust=500\n')
    st = os.stat(dropin('my-batch.service'))
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)
    # ssh: nothing a session could inherit; the drop-in only says why
    assert read(dropin('ssh.service')).endswith('[Service]\n# No OOMScoreAdjust=: every login session would inherit '
                                                'it. OpenSSH keeps its listener at -1000.\n')
    # the processes that carried the unit's value get the new one; a backend that reset its own keeps it
    assert [adj(fake, pid) for pid in (812, 830, 901, 500, 1200, 1201)] == [-500, 0, 500, -1000, 0, 0]
    assert result['processes'] == [
        dict(unit='my-batch.service', pid=901, name='batchjob', before=0, after=500),
        dict(unit='postgresql@15-main.service', pid=812, name='postgres', before=-900, after=-500)]
    # earlyoom: ours in front of the user's own expression, the user's other arguments kept
    assert result['earlyoom_args'] == '-r 3600 --avoid ^(postgres|sshd)$|^(myagent)$ --prefer ^(batchjob)$'
    assert read(module.EARLYOOM_DEFAULTS) == (
        '# Options for earlyoom\n# lowmem.hardening.oom_protect wrote: --avoid ^(postgres|sshd)$ --prefer ^(batchjob)$\n'
        'EARLYOOM_ARGS="-r 3600 --avoid ^(postgres|sshd)$|^(myagent)$ --prefer ^(batchjob)$"\n')
    assert result['restarted'] == ['earlyoom.service']
    assert fake.verbs() == ['show', 'daemon-reload', 'show', 'try-restart']
    services = dict((entry['unit'], entry) for entry in result['services'])
    assert services['postgresql@15-main.service']['honoured_by'] == ['oom-killer', 'lowmemorykiller', 'earlyoom']
    assert services['ssh.service']['oom_score_adjust'] == 0
    assert services['my-batch.service']['oom_score_adjust'] == 500


def test_second_run_changes_nothing(fake, monkeypatch):
    run(monkeypatch, services=SERVICES)
    before, calls = tree(fake.root), len(fake.calls)
    result = run(monkeypatch, services=SERVICES)
    assert not result['changed'] and result['processes'] == [] and result['restarted'] == []
    assert tree(fake.root) == before
    assert fake.verbs()[calls:] == ['show']


def test_check_mode_predicts_the_run_and_writes_nothing(fake, monkeypatch):
    before = tree(fake.root)
    predicted = run(monkeypatch, check_mode=True, diff=True, services=SERVICES)
    assert tree(fake.root) == before and fake.verbs() == ['show']
    real = run(monkeypatch, diff=True, services=SERVICES)
    for key in ('changed', 'services', 'processes', 'earlyoom_args', 'diff', 'killers'):
        assert predicted[key] == real[key], key
    assert predicted['restarted'] == [] and real['restarted'] == ['earlyoom.service']
    headers = [entry['after_header'] for entry in real['diff']]
    assert headers == [dropin('my-batch.service'), dropin('postgresql@15-main.service'), dropin('ssh.service'),
                       module.EARLYOOM_DEFAULTS, 'oom_score_adj (runtime)']
    assert real['diff'][4]['before'] == ('901 batchjob (my-batch.service): 0\n'
                                         '812 postgres (postgresql@15-main.service): -900\n')


def test_a_service_dropped_from_the_list_gets_its_own_value_back(fake, monkeypatch):
    run(monkeypatch, services=SERVICES)
    result = run(monkeypatch, services={'ssh': 'protect', 'my-batch': 'prefer'})
    assert result['changed']
    assert not os.path.exists(os.path.dirname(dropin('postgresql@15-main.service')))
    assert adj(fake, 812) == -900 and adj(fake, 830) == 0  # the unit's own OOMScoreAdjust=-900
    assert result['earlyoom_args'] == '-r 3600 --avoid ^(sshd)$|^(myagent)$ --prefer ^(batchjob)$'


def test_absent_puts_back_everything(fake, monkeypatch):
    before = tree(fake.root)
    run(monkeypatch, services=SERVICES)
    result = run(monkeypatch, state='absent')
    assert result['changed'] and result['services'] == []
    assert tree(fake.root) == before
    assert [adj(fake, pid) for pid in (812, 830, 901)] == [-900, 0, 0]
    assert run(monkeypatch, state='absent')['changed'] is False


def test_a_failure_part_way_puts_back_files_and_processes(fake, monkeypatch):
    run(monkeypatch, services={'my-batch': 'prefer'})
    before = tree(fake.root)
    fake.fail['try-restart'] = 'Job for earlyoom.service failed'
    result = run(monkeypatch, services=SERVICES)
    assert result['failed']
    assert result['msg'].startswith('/usr/bin/systemctl try-restart earlyoom.service failed (rc=1): Job for earlyoom')
    assert 'Could not undo everything' in result['msg']  # the undo's own restart fails too
    assert tree(fake.root) == before
    assert [adj(fake, pid) for pid in (812, 901)] == [-900, 500]
    fake.fail.clear()
    fake.reload()
    assert fake.loaded['postgresql@15-main.service'][1] == '-900'


def test_a_refused_reload_is_undone(fake, monkeypatch):
    before = tree(fake.root)
    fake.fail['daemon-reload'] = 'Access denied'
    result = run(monkeypatch, services=SERVICES)
    assert result['failed'] and 'systemctl daemon-reload failed' in result['msg']
    assert tree(fake.root) == before and adj(fake, 901) == 0


def test_a_later_dropin_wins_and_the_processes_follow_systemd(fake, monkeypatch):
    """What `systemctl edit` writes sorts after our drop-in: systemd's value is what the processes get."""
    write(os.path.join(module.UNIT_DIRECTORY, 'my-batch.service.d', 'override.conf'), '[Service]\nOOMScoreAdjust=100\n')
    write(os.path.join(host_layer.PROC, '901', 'oom_score_adj'), '100\n')
    fake.reload()
    result = run(monkeypatch, services={'my-batch': 'prefer'})
    assert any(w.startswith('my-batch.service: a drop-in after lowmem-protect.conf sets OOMScoreAdjust=100, and '
                            'systemd uses that') for w in result['warnings']), result['warnings']
    assert adj(fake, 901) == 100 and result['processes'] == []
    assert result['services'][0]['oom_score_adjust'] == 100


@pytest.mark.parametrize('services, message', [
    ({'nosuch': 'protect'}, 'services: nosuch.service is not installed (systemd knows no such unit); install it '
                            'first, or set allow_missing=true'),
    ({'ssh': 'avoid'}, 'services.ssh.service: only protect is possible'),
    ({'cron': 'protect'}, "services.cron.service: its children are users' sessions or jobs"),
    ({'ssh': 'never'}, "services.ssh: 'never' is not a level; use protect, avoid, prefer"),
    ({'machine.slice': 'protect'}, 'services: machine.slice is not a service'),
    ({}, 'services: name at least one service'),
])
def test_refusals_name_the_parameter_and_write_nothing(fake, monkeypatch, services, message):
    before = tree(fake.root)
    result = run(monkeypatch, services=services)
    assert result['failed'] and result['msg'].startswith(message), result['msg']
    assert result['msg'].endswith('Nothing was changed.')
    assert tree(fake.root) == before and 'daemon-reload' not in fake.verbs()


def test_systemd_oomd_gets_its_preference_and_refuses_prefer(fake, monkeypatch):
    fake.installed['systemd-oomd.service'] = ('/usr/lib/systemd/systemd-oomd', None, [])
    write(fake.fragment('systemd-oomd.service'), '[Service]\n')
    fake.reload()
    result = run(monkeypatch, services={'my-batch': 'prefer'})
    assert result['failed'] and 'systemd-oomd cannot honour prefer' in result['msg']
    result = run(monkeypatch, services={'ssh': 'protect', 'postgresql@15-main': 'avoid'})
    assert read(dropin('ssh.service')).endswith('at -1000.\nManagedOOMPreference=omit\n')
    assert read(dropin('postgresql@15-main.service')).endswith('OOMScoreAdjust=-500\nManagedOOMPreference=avoid\n')
    assert result['killers'] == ['oom-killer', 'lowmemorykiller', 'systemd-oomd', 'earlyoom']


def test_a_missing_service_is_prepared_when_allowed(fake, monkeypatch):
    result = run(monkeypatch, services={'monitoring-agent': 'protect'}, allow_missing=True)
    assert read(dropin('monitoring-agent.service')).endswith('OOMScoreAdjust=-1000\n')
    entry = result['services'][0]
    assert (entry['installed'], entry['oom_score_adjust'], entry['process_name']) == (False, None, 'monitoring-agen')
    assert '--avoid ^(monitoring\\-agen)$' not in result['earlyoom_args']  # '-' needs no escape
    assert '--avoid ^(monitoring-agen)$|^(myagent)$' in result['earlyoom_args']


def test_without_cap_sys_resource_lowering_is_reported_and_check_mode_agrees(fake, monkeypatch):
    """An unprivileged container: raising a value works, lowering one is not possible."""
    write(os.path.join(host_layer.PROC, 'self', 'status'), 'Name:\tpython3\nCapEff:\t00000000a80425fb\n')
    services = {'my-batch': 'prefer', 'postgresql@15-main': 'protect'}
    predicted = run(monkeypatch, check_mode=True, services=services)
    result = run(monkeypatch, services=services)
    for key in ('changed', 'processes', 'not_applied'):
        assert predicted[key] == result[key], key
    assert result['processes'] == [dict(unit='my-batch.service', pid=901, name='batchjob', before=0, after=500)]
    assert result['not_applied'] == [dict(unit='postgresql@15-main.service', pid=812, name='postgres', before=-900,
                                          after=-1000)]
    assert any(w.startswith('Cannot lower oom_score_adj of 812 (postgres) here: it needs CAP_SYS_RESOURCE')
               for w in result['warnings']), result['warnings']
    assert (adj(fake, 901), adj(fake, 812)) == (500, -900)
    assert read(dropin('postgresql@15-main.service')).endswith('OOMScoreAdjust=-1000\n')
    again = run(monkeypatch, services=services)
    assert again['changed'] is False and again['not_applied'] == result['not_applied']


def test_a_write_the_kernel_refuses_is_reported_not_failed(fake, monkeypatch):
    def refuse(pid, value):
        raise OSError(errno.EACCES, 'Permission denied')
    monkeypatch.setattr(module, 'write_adj', refuse)
    result = run(monkeypatch, services={'my-batch': 'prefer'})
    assert not result.get('failed') and result['processes'] == []
    assert result['not_applied'][0]['pid'] == 901
    assert read(dropin('my-batch.service')).endswith('OOMScoreAdjust=500\n')


def test_no_systemd_is_refused_by_name(fake, monkeypatch):
    os.rmdir(module.SYSTEMD_RUNTIME)
    before = tree(fake.root)
    result = run(monkeypatch, services=SERVICES)
    assert result['failed'] and result['msg'].startswith('oom_protect needs systemd as init')
    assert tree(fake.root) == before and fake.calls == []
    assert run(monkeypatch, state='absent')['changed'] is False


def test_a_run_interrupted_before_the_reload_is_completed_by_the_next(fake, monkeypatch):
    """The drop-in is on disk, systemd has not loaded it and the process has its old value."""
    write(dropin('my-batch.service'), protect.render_dropin(protect.plan_unit('my-batch.service', 'prefer', set())))
    original_show = fake.show
    fake.show = lambda unit: original_show(unit) + ('NeedDaemonReload=yes\n' if 'daemon-reload' not in fake.verbs()
                                                    else 'NeedDaemonReload=no\n')
    result = run(monkeypatch, services={'my-batch': 'prefer'})
    assert result['changed'] and 'daemon-reload' in fake.verbs()
    assert adj(fake, 901) == 500
    calls = len(fake.calls)
    assert run(monkeypatch, services={'my-batch': 'prefer'})['changed'] is False
    assert fake.verbs()[calls:] == ['show']


def test_an_alias_is_known_by_the_name_it_was_given(fake, monkeypatch):
    """Debian's sshd.service is an alias of ssh.service: systemctl show answers with ssh.service's Id."""
    result = run(monkeypatch, services={'sshd': 'protect'})
    assert not result.get('failed'), result
    assert [entry['unit'] for entry in result['services']] == ['sshd.service']
    assert protect.level_of_dropin(read(dropin('sshd.service'))) == 'protect'
    assert run(monkeypatch, services={'sshd': 'protect'})['changed'] is False
