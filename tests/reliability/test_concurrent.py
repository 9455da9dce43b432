# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two runs at the same time against the same host: the end state is one of the two requests, whole.

Both modules hold an flock on a directory (the parameters directory, the swap file's directory)
while they read and write; two processes are started together, many times over.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

from ansible_collections.lowmem.hardening.tests.reliability.helpers import (
    LMK_DEFAULTS,
    MIB,
    ORIGINAL_FSTAB,
    LmkHost,
    SwapHost,
    assert_swapfile,
    read,
    succeeded,
    temporaries,
    tmpfiles_lines,
    write,
)

ROUNDS = 20

FIRST = dict(minfree=[1024, 2048, 3072, 4096], adj=[0, 100, 200, 300], cost=16)
SECOND = dict(minfree=[512, 768], adj=[500, 900], cost=48)


def kernel_texts(request):
    texts = dict(LMK_DEFAULTS)
    texts.update((name, ','.join(str(v) for v in value) + '\n' if isinstance(value, list) else '%d\n' % value)
                 for name, value in request.items())
    return texts


def test_lowmemorykiller_runs_at_the_same_time(runner, root):
    host = LmkHost(root, runner)
    expected = [kernel_texts(FIRST), kernel_texts(SECOND)]
    for dummy in range(ROUNDS):
        processes = [host.start(persist='tmpfiles', **FIRST), host.start(persist='tmpfiles', **SECOND)]
        for run in [runner.finish(process) for process in processes]:
            succeeded(run)
        texts = host.texts()
        assert texts in expected
        # the boot file writes back exactly what the kernel shows
        lines = host.boot_file('tmpfiles').splitlines()
        assert lines[2:] == tmpfiles_lines(host.params, texts, ('adj', 'minfree', 'cost'))
        # the state file is whole JSON and still holds the values before the first run ever
        assert host.state()['paths'][host.params]['original'] == LMK_DEFAULTS
        assert temporaries(*host.etc_directories()) == []

    succeeded(host.run(state='restored'))
    assert host.texts() == LMK_DEFAULTS


def test_swapfile_created_twice_at_the_same_time(ext4, runner, root):
    host = SwapHost(ext4(256), root, runner)
    line = ('\r\n%s none swap sw 0 0' % host.path).encode()
    sizes = [8 * MIB, 16 * MIB]
    for dummy in range(ROUNDS):
        if os.path.exists(host.path):
            os.unlink(host.path)
        write(host.fstab, ORIGINAL_FSTAB, 0o644)
        processes = [host.start(size=size) for size in sizes]
        results = [succeeded(runner.finish(process)) for process in processes]
        # one created the file; the other, serialised behind it, found it and resized it
        [later] = [result for result in results if not result['created']]
        assert later['resized'] and later['size'] in sizes
        assert_swapfile(host.path, later['size'])
        assert sorted(os.listdir(host.directory)) == ['lost+found', 'swapfile']
        assert read(host.fstab) == ORIGINAL_FSTAB + line
        assert temporaries(os.path.dirname(host.fstab)) == []


def test_swapfiles_in_two_directories_at_the_same_time_share_fstab(ext4, runner, root):
    """Different directories, so different directory locks; both lines must still end up in fstab."""
    mount_point = ext4(256)
    hosts = []
    for name in ('a', 'b'):
        os.mkdir(os.path.join(mount_point, name))
        hosts.append(SwapHost(os.path.join(mount_point, name), root, runner))
    lines = set(('%s none swap sw 0 0' % host.path).encode() for host in hosts)
    for dummy in range(ROUNDS):
        for host in hosts:
            if os.path.exists(host.path):
                os.unlink(host.path)
        write(hosts[0].fstab, ORIGINAL_FSTAB, 0o644)
        # dd takes a while: both runs have read fstab before either writes it, unless serialised
        processes = [host.start(size='16M', method='dd') for host in hosts]
        for process in processes:
            assert succeeded(runner.finish(process))['created']
        fstab = read(hosts[0].fstab)
        assert fstab.startswith(ORIGINAL_FSTAB + b'\r\n')
        assert set(fstab[len(ORIGINAL_FSTAB) + 2:].split(b'\r\n')) == lines
        assert temporaries(os.path.dirname(hosts[0].fstab)) == []
