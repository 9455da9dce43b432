# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measurement 3: creating a big swap file through one Ansible call, the module next to fallocate and dd."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from runner import BenchError, compared, interleave, summary
from testbed import IMAGE_PYTHON, PODMAN_HOST, parse_mib


def measure(bench):
    size = bench.sizes['swap_size']
    name = bench.name('m3')
    disk = bench.disk(name)
    path = bench.swap_paths(name, disk)[1]
    bench.start(name, IMAGE_PYTHON, 'fakesysfs', disk=disk)
    bench.wait_booted([name], systemd=False)
    inventory = bench.inventory('m3.yml', {'bench': {name: {}}}, PODMAN_HOST)
    fill = {
        'fallocate': 'fallocate -l %s %s' % (size, path),
        'dd': 'dd if=/dev/zero of=%s bs=1M count=%d status=none' % (path, parse_mib(size)),
    }
    variants = {
        'module': ['-m', 'lowmem.hardening.swapfile', '-a', 'path=%s size=%s active=false fstab=false' % (path, size)],
    }
    for key, command in fill.items():
        variants[key] = ['-m', 'ansible.builtin.command', '-a',
                         "sh -c 'umask 077 && %s && mkswap %s'" % (command, path)]

    def once(key):
        def run():
            outcome = bench.adhoc([name, '-i', inventory] + variants[key], timed=True)
            if ' | CHANGED ' not in outcome.out:
                raise BenchError('%s did not create the swap file: %s' % (key, outcome.out.strip()[:300]))
            check = bench.shell.run(['podman', 'exec', name, 'sh', '-c',
                                     'stat -c %%s %s && dd if=%s bs=1 skip=4086 count=10 status=none && rm %s && sync -f /mnt/disk'
                                     % (path, path, path)]).out.split()
            if check[0] != str(parse_mib(size) * 1024 * 1024) or check[1] != 'SWAPSPACE2':
                raise BenchError('%s: unexpected swap file %s' % (key, check))
            return outcome.seconds
        return run
    samples = interleave(bench.sizes['runs'], [(key, once(key)) for key in ('module', 'fallocate', 'dd')])
    bench.remove_containers([name])
    module = summary(samples['module'])
    rows = [compared('%s swap file, one Ansible call (s)' % size, 'lowmem.hardening.swapfile', module,
                     '%s + mkswap (ansible.builtin.command)' % baseline, summary(samples[baseline]))
            for baseline in ('fallocate', 'dd')]
    return dict(
        id='3', title='Creating a %s swap file on ext4, each through one Ansible call' % size,
        target='module <= 1.2x fallocate + mkswap', met=rows[0]['ratio'] <= 1.2, rows=rows,
        notes=['The file is on a bind-mounted directory on ext4 (loop-mounted image when the checkout is not on '
               'ext4), checked (size, SWAPSPACE2 signature) and deleted after every run.'],
    )
