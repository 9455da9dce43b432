# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The services of converge-protect.yml: their drop-ins, what systemd and the service's process show,
and what the summary and lowmem_result said in the converge and idempotence runs (recorded by the
lowmem_test_results callback)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

import yaml

ROLE = 'lowmem.hardening.lowmem : '
PROTECT_TASK = "Protect | Make the services' protection from memory killers what lowmem_protect asks"
PUBLISH_TASK = 'Report | Publish what each module call did as lowmem_result'
SUMMARY_TASK = 'Report | Summarise what was found and changed on this host'
UNIT_DIRECTORY = '/etc/systemd/system'
# unit: (level, OOMScoreAdjust= written, installed)
SERVICES = {
    'lowmem-fakesysfs.service': ('protect', -1000, True),
    'my-batch.service': ('prefer', 500, False),
}
# The containers have the fake lowmemorykiller sysfs, and neither systemd-oomd nor earlyoom.
KILLERS = ['oom-killer', 'lowmemorykiller']
SUMMARY = ('protected: lowmem-fakesysfs (protect: oom-killer, lowmemorykiller), '
           'my-batch (prefer: oom-killer, lowmemorykiller; not installed)')
CAP_SYS_RESOURCE = 24


def _instances():
    """The containers the create playbook started, reached with `podman exec`."""
    with open(os.environ['MOLECULE_INSTANCE_CONFIG']) as f:
        return ['podman://' + entry['instance'] for entry in yaml.safe_load(f)]


testinfra_hosts = _instances()


def _name(host):
    return host.backend.get_hostname()


def _dropin(unit):
    return '%s/%s.d/lowmem-protect.conf' % (UNIT_DIRECTORY, unit)


def _role_runs(host):
    """[[record]]: the role's task results on host in each run since the containers were created, in order."""
    runs = []
    with open(os.environ['LOWMEM_TEST_RESULTS']) as f:
        for line in f:
            record = json.loads(line)
            if record['playbook'] == 'create.yml':
                runs = []
            elif record['task'].startswith(ROLE) and record['host'] == _name(host):
                if not runs or runs[-1][0]['run'] != record['run']:
                    runs.append([])
                runs[-1].append(record)
    # `molecule test` makes exactly two: converge and idempotence (more after a converge by hand).
    assert len(runs) >= 2, 'expected the converge and the idempotence run, found %d runs' % len(runs)
    return runs


def _task(records, name):
    found = [r for r in records if r['task'] == ROLE + name]
    assert len(found) == 1, name
    return found[0]


def _show(host, unit, properties):
    out = host.check_output('systemctl show -p %s -- %s', ','.join(properties), unit)
    return dict(line.split('=', 1) for line in out.splitlines())


def _can_lower_oom_score_adj(host):
    """Whether processes here have CAP_SYS_RESOURCE, without which nobody (the module, systemd) can lower a
    process's oom_score_adj: podman does not give it to a container by default."""
    status = host.file('/proc/self/status').content_string
    cap_eff = [line.split()[1] for line in status.splitlines() if line.startswith('CapEff:')][0]
    return bool(int(cap_eff, 16) & (1 << CAP_SYS_RESOURCE))


def test_each_service_has_its_dropin_root_owned_and_0644(host):
    for unit, (level, score_adjust, _installed) in SERVICES.items():
        dropin = host.file(_dropin(unit))
        assert (dropin.user, dropin.group, dropin.mode) == ('root', 'root', 0o644), unit
        assert dropin.content_string == (
            '# Managed by lowmem.hardening.oom_protect: %s. Local changes are overwritten.\n'
            '[Service]\nOOMScoreAdjust=%d\n' % (level, score_adjust))
        directory = host.file(os.path.dirname(_dropin(unit)))
        assert (directory.user, directory.group, directory.mode) == ('root', 'root', 0o755), unit


def test_no_other_unit_got_a_dropin(host):
    found = host.check_output('find %s -name lowmem-protect.conf', UNIT_DIRECTORY).split()
    assert sorted(found) == sorted(_dropin(unit) for unit in SERVICES)


def _summary(host):
    """The protected: line; where the container does not let anyone lower a value, it says for which service."""
    if _can_lower_oom_score_adj(host):
        return SUMMARY
    return SUMMARY + '; not applied at runtime (no CAP_SYS_RESOURCE): lowmem-fakesysfs'


def test_systemd_uses_the_dropin_of_the_installed_service(host):
    shown = _show(host, 'lowmem-fakesysfs.service', ['LoadState', 'ActiveState', 'OOMScoreAdjust', 'DropInPaths'])
    assert shown == {'LoadState': 'loaded', 'ActiveState': 'active', 'OOMScoreAdjust': '-1000',
                     'DropInPaths': _dropin('lowmem-fakesysfs.service')}


def test_the_missing_service_is_still_unknown_to_systemd(host):
    # allow_missing: the drop-in waits for my-batch.service to be installed.
    assert _show(host, 'my-batch.service', ['LoadState'])['LoadState'] == 'not-found'


def test_the_running_process_has_the_value_the_container_permits(host):
    """Not restarted: the module sets the process's oom_score_adj itself, where it may lower it. Without
    CAP_SYS_RESOURCE (podman's default) it cannot: it keeps the drop-in, returns the process in not_applied
    and says so in a warning naming it, in the converge and again in the idempotence run (the process still
    has the value systemd gave it), without reporting a change for it."""
    pid = int(_show(host, 'lowmem-fakesysfs.service', ['MainPID'])['MainPID'])
    adj = int(host.file('/proc/%d/oom_score_adj' % pid).content_string)
    converge, idempotence = [_task(records, PROTECT_TASK) for records in _role_runs(host)[:2]]
    if _can_lower_oom_score_adj(host):
        assert adj == -1000
        assert converge['result']['processes'] == [
            dict(unit='lowmem-fakesysfs.service', pid=pid, name='python3', before=0, after=-1000)]
        assert converge['said'] == idempotence['said'] == []
    else:
        assert adj == 0
        for run in (converge, idempotence):
            assert run['result']['processes'] == []
            assert run['result']['not_applied'] == [
                dict(unit='lowmem-fakesysfs.service', pid=pid, name='python3', before=0, after=-1000)]
            assert len(run['said']) == 1, run['said']
            assert run['said'][0].startswith('Cannot lower oom_score_adj of %d (python3) here: it needs '
                                             'CAP_SYS_RESOURCE' % pid), run['said']


def test_converge_changes_and_says_what_is_protected_from_which_killers(host):
    converge = _role_runs(host)[0]
    assert _task(converge, PROTECT_TASK)['status'] == 'changed'
    said = _task(converge, SUMMARY_TASK)['said']
    assert _summary(host) in said, said
    changed = [line for line in said if line.startswith('changed: ')]
    assert len(changed) == 1 and changed[0].endswith(', protect'), said


def test_idempotence_changes_nothing_and_says_the_same(host):
    idempotence = _role_runs(host)[1]
    protect = _task(idempotence, PROTECT_TASK)
    assert (protect['status'], protect['result']['changed'], protect['result']['processes']) == ('ok', False, [])
    said = _task(idempotence, SUMMARY_TASK)['said']
    assert _summary(host) in said and 'changed: nothing' in said, said


def test_lowmem_result_holds_the_module_result_under_oom_protect(host):
    for records in _role_runs(host)[:2]:
        result = _task(records, PUBLISH_TASK)['result']['ansible_facts']['lowmem_result']['oom_protect']
        assert result['killers'] == KILLERS
        assert (result['earlyoom_args'], result['restarted']) == (None, [])
        assert result['services'] == [
            dict(unit=unit, level=level, installed=installed, dropin=_dropin(unit),
                 oom_score_adjust=score_adjust if installed else None, managed_oom_preference=None, earlyoom=None,
                 process_name='python3' if installed else unit[:-len('.service')], honoured_by=KILLERS)
            for unit, (level, score_adjust, installed) in sorted(SERVICES.items())]
