# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measurement 5: playbooks/harden-lowmem.yml over a fleet of 1, 10 and 30 containers next to ping over
the same hosts, over the podman connection and over ssh."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import statistics

from runner import BenchError, compared, counted, interleave, summary
from testbed import IMAGE_SSH, PODMAN_BECOME, PODMAN_HOST


def measure(bench):
    sizes = bench.sizes
    names = [bench.name('f%02d' % (index + 1)) for index in range(max(sizes['fleet_sizes']))]
    inventories = start_fleet(bench, names)
    # First run over every host puts everything in place; not measured.
    _seconds, converged = bench.playbook(['-i', inventories['podman'], bench.harden, '--forks', str(bench.args.forks)])
    # The transport floor of the role: as many pings, with become, as the role makes module calls.
    calls = len(set(r['task'] for r in converged if r['action'].startswith('lowmem.hardening.')))
    floor = bench.write(os.path.join(bench.run_dir, 'fleet-floor.yml'), json.dumps([dict(
        name='Transport floor: one ping per module call of the role', hosts='{{ lowmem_hosts }}', become=True,
        gather_facts=False, tasks=[{'name': 'ping %d' % (index + 1), 'ansible.builtin.ping': {}}
                                   for index in range(calls)])], indent=2) + '\n')
    # Each module's own run on one host: in a real fleet each host pays it on its own CPU; here all the
    # containers share the controller's 2 cores, so at 30 hosts it adds up.
    on_host = bench.module_runs_on_host(names[0], [
        ['ansible-playbook', '-i', inventories['podman'], bench.harden, '-e', 'lowmem_hosts=' + names[0]],
        ['ansible', names[0], '-i', inventories['podman'], '-m', 'ansible.builtin.ping']], sizes['fleet_runs'])
    on_host_ping = on_host.pop('ping')
    rows = [counted('one host: each module\'s own run in the container, python AnsiballZ_*.py, median (s)', 'role',
                    ', '.join('%s %.3f' % (module, statistics.median(times)) for module, times in sorted(on_host.items())),
                    'ping', '%.3f' % statistics.median(on_host_ping))]
    scaling = {}
    for transport in ('podman', 'ssh'):
        transport_rows, scales = time_transport(bench, transport, inventories[transport], floor, calls)
        rows += transport_rows
        if scales:
            scaling[transport] = scales
    bench.close_ssh_masters()
    bench.remove_containers(names)
    return dict(
        id='5', title='Fleet: playbooks/harden-lowmem.yml over %s containers, next to ping over the same hosts'
        % ', '.join(str(size) for size in sizes['fleet_sizes']),
        target='role\'s 30-host/1-host ratio no worse than ping\'s',
        met=all(scales[0] <= scales[1] for scales in scaling.values()) if scaling else None, rows=rows,
        met_parts=dict(('%s_vs_ping' % transport, scales[0] <= scales[1]) for transport, scales in scaling.items()),
        notes=['Idempotent re-runs (everything in place; a change fails the bench), forks %s. The hosts boot '
               'without systemd (fake sysfs, cron, sshd): 30 systemd containers would need 150 of the host\'s 128 '
               'inotify instances (fs.inotify.max_user_instances), shared with everyone\'s containers. podman: the '
               'containers.podman connection, become by su (as in Molecule). ssh: sshd in the same containers on '
               '127.0.0.1, pipelining and ControlPersist on, become by sudo. Each size starts with an untimed ping.'
               % bench.args.forks] + scaling_notes(scaling, max(sizes['fleet_sizes']), calls),
    )


def start_fleet(bench, names):
    """Start the hosts with sshd on 127.0.0.1 and a key of the run's; {transport: inventory of groups h1, h10...}."""
    key = os.path.join(bench.tmp_dir, 'id_ed25519')
    bench.shell.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'lowmem-bench', '-f', key])
    os.chmod(key + '.pub', 0o644)
    for name in names:
        bench.start(name, IMAGE_SSH, 'sshd', disk=bench.disk(name), ssh_keys=key + '.pub')
    bench.wait_booted(names, systemd=False)
    for name in names:
        bench.shell.run(['podman', 'exec', name, 'sh', '-c',
                         'for try in $(seq 100); do [ -s /run/sshd.pid ] && exit 0; sleep 0.1; done; exit 1'])
    ports = {}
    for name in names:
        published = bench.shell.run(['podman', 'port', name, '22/tcp']).out.strip().splitlines()[0]
        ports[name] = int(published.rsplit(':', 1)[1])
    role_vars = {'lowmem_swapfile_size': bench.sizes['role_swap_size'], 'lowmem_swapfile_active': False}
    groups = ['h%d' % size for size in bench.sizes['fleet_sizes']]
    swap = dict((name, {'lowmem_swapfile_path': '/mnt/disk/%s.swap' % name}) for name in names)
    podman_groups = dict((group, dict((name, swap[name]) for name in names[:int(group[1:])])) for group in groups)
    ssh_groups = dict((group, dict((name, dict(swap[name], ansible_port=ports[name])) for name in names[:int(group[1:])]))
                      for group in groups)
    return {
        'podman': bench.inventory('fleet-podman.yml', podman_groups, dict(role_vars, **dict(PODMAN_HOST, **PODMAN_BECOME))),
        # Real fleets: ssh with pipelining and ControlPersist (bench/ansible.cfg), become by sudo.
        'ssh': bench.inventory('fleet-ssh.yml', ssh_groups, dict(
            role_vars, ansible_host='127.0.0.1', ansible_user='root', ansible_ssh_private_key_file=key,
            ansible_become_method='ansible.builtin.sudo',
            ansible_control_path_dir=os.path.join(bench.tmp_dir, 'cp'))),
    }


def time_transport(bench, transport, inventory, floor, calls):
    """Rows of one transport at every fleet size, and its scaling from the smallest size to the largest
    [role, ping, transport floor] (None with one size)."""
    medians, task_times, rows = {}, {}, []
    for size in bench.sizes['fleet_sizes']:
        samples = time_fleet_size(bench, inventory, size, floor, task_times)
        ours, theirs = summary(samples['role']), summary(samples['ping'])
        medians[size] = [ours['median'], theirs['median']]
        label = '%s, %d host%s (s)' % (transport, size, 's' if size > 1 else '')
        rows.append(compared(label, 'playbooks/harden-lowmem.yml', ours, 'ansible -m ansible.builtin.ping', theirs))
        if 'floor' in samples:
            least = summary(samples['floor'])
            medians[size].append(least['median'])
            rows.append(compared(label, 'playbooks/harden-lowmem.yml', ours,
                                 'transport floor: %d pings with become (playbook)' % calls, least))
    first, last = min(medians), max(medians)
    if first == last:
        return rows, None
    scales = [medians[last][index] / medians[first][index] for index in range(3)]
    rows.append(counted('%s, %d-host time / 1-host time' % (transport, last), 'role', '%.2fx' % scales[0],
                        'ping', '%.2fx (transport floor %.2fx)' % tuple(scales[1:])))
    # Per-host time of each task at the largest size: a bottleneck of ours would show here.
    ours_tasks = ', '.join('%s %.2f' % (task.split('|')[-1].strip(), statistics.median(times))
                           for (name, task), times in sorted(task_times.items()) if name == 'role')
    floor_pings = task_times.get(('floor', 'ping'), [])
    rows.append(counted('%s, %d hosts: per-host time of each task, median (s)' % (transport, last), 'role', ours_tasks,
                        'transport floor, a ping', '%.2f' % statistics.median(floor_pings) if floor_pings else ''))
    return rows, scales


def time_fleet_size(bench, inventory, size, floor, task_times):
    """{role, ping, floor: [seconds]} over the first `size` hosts; the floor at the smallest and largest size only
    (a diagnosis of the scaling). At the largest size each task's times go to task_times {(role or floor, task)}."""
    fleet_sizes = bench.sizes['fleet_sizes']
    hosts_forks = ['-e', 'lowmem_hosts=h%d' % size, '--forks', str(bench.args.forks)]
    ping_argv = ['h%d' % size, '-i', inventory, '-m', 'ansible.builtin.ping', '--forks', str(bench.args.forks)]
    bench.adhoc(ping_argv)  # warm-up: ssh control masters up, caches warm

    def playbook(path, name):
        def run():
            seconds, results = bench.playbook(['-i', inventory, path] + hosts_forks, timed=True)
            changed = [r for r in results if r['changed']]
            if changed:
                raise BenchError('a re-run changed: %s' % changed)
            if size == max(fleet_sizes):
                for result in results:
                    if result['action'] != 'ansible.builtin.validate_argument_spec':
                        key = (name, 'ping' if result['action'].endswith('ping') else result['task'])
                        task_times.setdefault(key, []).append(result['seconds'])
            return seconds
        return run

    def ping():
        outcome = bench.adhoc(ping_argv, timed=True)
        if outcome.out.count(' | SUCCESS ') != size:
            raise BenchError('ping did not succeed on all %d hosts' % size)
        return outcome.seconds
    variants = [('role', playbook(bench.harden, 'role')), ('ping', ping)]
    if size in (min(fleet_sizes), max(fleet_sizes)):
        variants.append(('floor', playbook(floor, 'floor')))
    return interleave(bench.sizes['fleet_runs'], variants, limits={'floor': bench.sizes['floor_runs']})


def scaling_notes(scaling, largest, calls):
    """Why a role of several calls scales worse than one ad hoc ping, in this run's own figures."""
    return ['%s: the role scales %.2fx from 1 to %d hosts, ping %.2fx, %d pings with become %.2fx: '
            'at 1 host ansible\'s start-up is a large part of one ping\'s time and a small part of %d '
            'calls\' time, while at %d hosts every call costs the same shared 2 cores, so any play of '
            'more calls than one scales worse than one ping; the role %s the floor of as many pings, which '
            'lacks its two tasks on the controller (argument spec, summary); the per-host task times above '
            'show where the time goes.'
            % (transport, scales[0], largest, scales[1], calls, scales[2], calls, largest,
               'scales no worse than' if scales[0] <= scales[2] else 'scales worse than')
            for transport, scales in sorted(scaling.items()) if scales[0] > scales[1]]
