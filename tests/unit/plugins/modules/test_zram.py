# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lowmem.hardening.zram against a fake host in a temporary directory.

/sys/block/zram0, /sys/module/zram, /sys/class/zram-control, /proc/swaps, /proc/meminfo, /etc/systemd and
/run/systemd/system are directories and files under tmp_path. modprobe, zramctl, mkswap, swapon, swapoff and
systemctl are stand-ins (fixtures/fake_zram_tools.py) that log their calls and act on those files as the
kernel and systemd do, as far as the module can tell. The real kernel is tests/kernel's VM.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import errno
import hashlib
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.plugins.modules import zram as zram_module
from ansible_collections.lowmem.hardening.tests.unit.plugins.modules.utils import run_module

MIB = 1024 * 1024
MEM_TOTAL_KIB = 481284  # the test VM's
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'fake_zram_tools.py')
TOOLS = ('modprobe', 'zramctl', 'mkswap', 'swapon', 'swapoff', 'systemctl')
SWAPS_HEADER = b'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='lowmem.hardening.zram runs as root only')

Env = collections.namedtuple('Env', 'root etc units config dropin unit link block swaps meminfo generator log')


def write(path, data):
    with open(path, 'wb') as handle:
        handle.write(data)


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def meminfo(available_kib=300000):
    return ('MemTotal:       %d kB\nMemFree:        %d kB\nMemAvailable:   %d kB\n'
            % (MEM_TOTAL_KIB, available_kib, available_kib)).encode()


@pytest.fixture
def env(tmp_path, monkeypatch):
    root = os.path.realpath(str(tmp_path))
    etc = os.path.join(root, 'etc', 'systemd')
    units = os.path.join(etc, 'system')
    bindir = os.path.join(root, 'bin')
    generator = os.path.join(root, 'usr', 'lib', 'systemd', 'system-generators', 'zram-generator')
    for directory in (units, bindir, os.path.join(root, 'proc'), os.path.join(root, 'run', 'systemd', 'system'),
                      os.path.join(root, 'sys', 'block'), os.path.join(root, 'sys', 'module'),
                      os.path.dirname(generator)):
        os.makedirs(directory)
    write(generator, b'')
    write(os.path.join(root, 'proc', 'swaps'), SWAPS_HEADER)
    write(os.path.join(root, 'proc', 'meminfo'), meminfo())
    fake = os.path.join(root, 'fake_zram_tools.py')  # a copy: the run does not depend on the checkout meanwhile
    write(fake, read(FAKE))
    for tool in TOOLS:
        path = os.path.join(bindir, tool)
        write(path, ('#!/bin/sh\nexec "%s" "%s" %s "$@"\n' % (sys.executable, fake, tool)).encode())
        os.chmod(path, 0o755)
    monkeypatch.setenv('PATH', bindir + os.pathsep + os.environ.get('PATH', ''))
    monkeypatch.setenv('FAKE_ZRAM_ROOT', root)
    monkeypatch.delenv('FAKE_ZRAM_FAIL', raising=False)
    monkeypatch.delenv('FAKE_ZRAM_FAIL_ONCE', raising=False)
    monkeypatch.setattr(zram_module, 'SYSTEMD_RUNTIME', os.path.join(root, 'run', 'systemd', 'system'))
    monkeypatch.setattr(zram_module, 'GENERATORS', (generator,))
    monkeypatch.setattr(zram_module, 'GENERATOR_CONFIG', os.path.join(etc, 'zram-generator.conf'))
    monkeypatch.setattr(zram_module, 'UNIT_DIRECTORY', units)
    monkeypatch.setattr(zram_module, 'SYS_BLOCK', os.path.join(root, 'sys', 'block'))
    monkeypatch.setattr(zram_module, 'SYS_MODULE', os.path.join(root, 'sys', 'module'))
    monkeypatch.setattr(zram_module, 'ZRAM_CONTROL', os.path.join(root, 'sys', 'class', 'zram-control'))
    monkeypatch.setattr(host, 'PROC_SWAPS', os.path.join(root, 'proc', 'swaps'))
    monkeypatch.setattr(host, 'MEMINFO', os.path.join(root, 'proc', 'meminfo'))
    real_read_bytes = host.read_bytes

    def read_bytes(path, missing=b''):
        if os.path.basename(path) == 'hot_add':  # the kernel adds a device on this read
            subprocess.run([sys.executable, fake, 'hot_add'], check=True)
        return real_read_bytes(path, missing)
    monkeypatch.setattr(host, 'read_bytes', read_bytes)
    return Env(root=root, etc=etc, units=units, config=os.path.join(etc, 'zram-generator.conf'),
               dropin=os.path.join(units, 'dev-zram0.swap.d', 'lowmem-oomd.conf'),
               unit=os.path.join(units, 'lowmem-zram.service'),
               link=os.path.join(units, 'swap.target.wants', 'lowmem-zram.service'),
               block=os.path.join(root, 'sys', 'block', 'zram0'), swaps=os.path.join(root, 'proc', 'swaps'),
               meminfo=os.path.join(root, 'proc', 'meminfo'), generator=generator,
               log=os.path.join(root, 'commands.log'))


def run(env, monkeypatch, check_mode=False, diff=False, **args):
    return run_module(zram_module.main, args, check_mode=check_mode, diff=diff, monkeypatch=monkeypatch)


def ok(result):
    assert not result.get("failed"), result.get("msg")
    return result


def logged(env):
    return read(env.log).decode().splitlines() if os.path.exists(env.log) else []


def forget_log(env):
    if os.path.exists(env.log):
        os.unlink(env.log)


def snapshot(env):
    """Everything the module or the stand-ins could change: /etc/systemd, the fake sysfs and /proc/swaps."""
    found = {}
    for top in (os.path.join(env.root, 'etc'), os.path.join(env.root, 'sys'), os.path.join(env.root, 'proc')):
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                entry = (stat.filemode(st.st_mode), st.st_uid, st.st_gid)
                if stat.S_ISREG(st.st_mode):
                    entry += (hashlib.sha256(read(path)).hexdigest(),)
                elif stat.S_ISLNK(st.st_mode):
                    entry += (os.readlink(path),)
                found[path] = entry
    return found


def device(env):
    """(disksize, algorithm, swap priority or None) of the fake zram0, or None."""
    if not os.path.isdir(env.block):
        return None
    algorithm = [word[1:-1] for word in read(os.path.join(env.block, 'comp_algorithm')).decode().split()
                 if word.startswith('[')][0]
    swaps = [line.split() for line in read(env.swaps).decode().splitlines()[1:] if line.startswith('/dev/zram0')]
    return int(read(os.path.join(env.block, 'disksize'))), algorithm, int(swaps[0][4]) if swaps else None


HALF = MEM_TOTAL_KIB * 1024 // 2 // MIB * MIB  # ram / 2 as the generator sets it: whole MiB


# ---- method=generator ------------------------------------------------------------------

def test_generator_creates_config_dropin_and_device(env, monkeypatch):
    result = ok(run(env, monkeypatch, size='ram / 2', algorithm='zstd'))
    assert result['changed'] and result['method'] == 'generator' and result['recreated']
    assert (result['size'], result['algorithm'], result['priority'], result['active']) == (HALF, 'zstd', 100, True)
    assert read(env.config).decode().splitlines()[1:] == [
        '[zram0]', 'zram-size = ram / 2', 'compression-algorithm = zstd', 'swap-priority = 100']
    assert b'Before=systemd-oomd.service' in read(env.dropin)
    for path in (env.config, env.dropin):
        st = os.stat(path)
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)
    assert device(env) == (HALF, 'zstd', 100)
    assert logged(env)[-3:] == ['systemctl daemon-reload', 'systemctl start systemd-zram-setup@zram0.service',
                                'systemctl start dev-zram0.swap']
    assert not os.path.exists(env.unit) and not os.path.lexists(env.link)
    assert result['files'] == sorted([env.config, env.dropin])
    assert result['stats']['orig_data_size'] == 8192 and result['stats']['ratio'] == 4.0


def test_second_run_and_check_mode_change_nothing(env, monkeypatch):
    ok(run(env, monkeypatch, size='50%', algorithm='zstd'))
    before = snapshot(env)
    forget_log(env)
    again = ok(run(env, monkeypatch, size='ram / 2', algorithm='zstd'))
    checked = ok(run(env, monkeypatch, check_mode=True, diff=True, size='ram / 2', algorithm='zstd'))
    assert not again['changed'] and not checked['changed'] and not again['recreated']
    assert (again['size'], again['algorithm'], again['priority']) == (HALF, 'zstd', 100)
    assert snapshot(env) == before and logged(env) == []


def test_check_mode_predicts_the_real_run_and_writes_nothing(env, monkeypatch):
    before = snapshot(env)
    predicted = ok(run(env, monkeypatch, check_mode=True, diff=True, size='ram / 2', algorithm='lz4', priority=7))
    assert snapshot(env) == before and logged(env) == []
    done = ok(run(env, monkeypatch, size='ram / 2', algorithm='lz4', priority=7))
    for key in ('changed', 'method', 'size', 'algorithm', 'priority', 'active', 'files', 'recreated'):
        assert predicted[key] == done[key], key
    headers = [entry['before_header'] for entry in predicted['diff']]
    assert headers == [env.config, env.dropin, '/dev/zram0 (runtime)']
    assert predicted['diff'][2]['before'] == ''
    assert predicted['diff'][2]['after'] == 'size: %d\nalgorithm: lz4\npriority: 7\nactive: true\n' % HALF
    # a change of size is predicted too, and check mode still writes nothing
    after_create = snapshot(env)
    resize = ok(run(env, monkeypatch, check_mode=True, diff=True, size='256M', algorithm='lz4', priority=7))
    assert resize['changed'] and resize['recreated'] and resize['size'] == 256 * MIB
    assert 'zram-size = 256' in resize['diff'][0]['after'] and 'size: %d' % HALF in resize['diff'][-1]['before']
    assert snapshot(env) == after_create


def test_changing_the_size_swaps_off_resets_and_sets_up_again(env, monkeypatch):
    ok(run(env, monkeypatch, size='ram / 2', algorithm='zstd'))
    forget_log(env)
    result = ok(run(env, monkeypatch, size='128M', algorithm='zstd', priority=60))
    assert result['changed'] and result['recreated'] and device(env) == (128 * MIB, 'zstd', 60)
    assert logged(env)[:2] == ['swapoff /dev/zram0', 'systemctl stop systemd-zram-setup@zram0.service']
    assert 'zram-size = 128\n' in read(env.config).decode()


def test_generator_refused_when_not_installed(env, monkeypatch):
    os.unlink(env.generator)
    before = snapshot(env)
    result = run(env, monkeypatch, size='ram / 2', method='generator')
    assert result['failed'] and result['msg'].startswith('method: generator needs systemd-zram-generator')
    assert 'Nothing was changed' in result['msg'] and snapshot(env) == before and logged(env) == []


def test_debian_default_config_is_replaced_with_a_backup(env, monkeypatch):
    debian = b'# This config file enables a /dev/zram0 swap device\n[zram0]\n'
    write(env.config, debian)
    result = ok(run(env, monkeypatch, size='ram / 4', backup=True))
    assert read(result['backup_file']) == debian
    assert b'zram-size = ram / 4' in read(env.config)


def test_config_with_other_devices_is_refused(env, monkeypatch):
    write(env.config, b'[zram0]\n[zram1]\nmount-point = /var/tmp\n')
    before = snapshot(env)
    for args in (dict(size='ram / 2'), dict(state='absent')):
        result = run(env, monkeypatch, **args)
        assert result['failed'] and 'configures zram1 too' in result['msg'], result
        assert snapshot(env) == before


def test_a_config_file_with_a_wrong_mode_or_owner_is_rewritten(env, monkeypatch):
    ok(run(env, monkeypatch, size='ram / 2'))
    content = read(env.config)
    os.chown(env.config, 65534, 65534)
    os.chmod(env.config, 0o666)
    result = ok(run(env, monkeypatch, size='ram / 2'))
    assert result['changed'] and not result['recreated']
    st = os.stat(env.config)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0) and read(env.config) == content
    assert not ok(run(env, monkeypatch, size='ram / 2'))['changed']


# ---- method=unit -----------------------------------------------------------------------------

def test_unit_writes_enables_and_starts_its_service(env, monkeypatch):
    os.unlink(env.generator)  # auto picks the unit
    result = ok(run(env, monkeypatch, size='200M', algorithm='lz4', priority=50))
    assert result['method'] == 'unit' and result['changed'] and result['files'] == [env.unit]
    assert device(env) == (200 * MIB, 'lz4', 50)
    text = read(env.unit).decode()
    bindir = os.path.join(env.root, 'bin')
    assert [line for line in text.splitlines() if line.startswith('Exec')] == [
        'ExecStart=%s/modprobe zram' % bindir,
        'ExecStart=%s/zramctl --size %d --algorithm lz4 /dev/zram0' % (bindir, 200 * MIB),
        'ExecStart=%s/mkswap /dev/zram0' % bindir,
        'ExecStart=%s/swapon --priority 50 /dev/zram0' % bindir,
        'ExecStop=-%s/swapoff /dev/zram0' % bindir,
        'ExecStop=%s/zramctl --reset /dev/zram0' % bindir,
        'ExecStop=-%s/modprobe -r zram' % bindir,
    ]
    assert 'Before=swap.target systemd-oomd.service shutdown.target' in text and 'WantedBy=swap.target' in text
    assert 'sh -c' not in text and 'DefaultDependencies=no' in text
    assert os.path.islink(env.link)
    assert [call for call in logged(env) if call.startswith('systemctl')] == [
        'systemctl daemon-reload', 'systemctl enable lowmem-zram.service', 'systemctl start lowmem-zram.service']
    before = snapshot(env)
    forget_log(env)
    assert not ok(run(env, monkeypatch, size=200 * MIB, algorithm='lz4', priority=50))['changed']
    assert not ok(run(env, monkeypatch, check_mode=True, size='200MiB', algorithm='lz4', priority=50))['changed']
    assert snapshot(env) == before and logged(env) == []


def test_switching_methods_removes_the_other_methods_files(env, monkeypatch):
    ok(run(env, monkeypatch, size='ram / 2', algorithm='zstd'))
    result = ok(run(env, monkeypatch, size='ram / 2', algorithm='zstd', method='unit'))
    assert result['changed'] and result['recreated'] and result['files'] == [env.unit]
    assert not os.path.exists(env.config) and not os.path.exists(os.path.dirname(env.dropin))
    assert device(env) == (-(-MEM_TOTAL_KIB * 1024 // 2 // 4096) * 4096, 'zstd', 100)  # a page, rounded up
    back = ok(run(env, monkeypatch, size='ram / 2', algorithm='zstd', method='generator'))
    assert back['recreated'] and not os.path.exists(env.unit) and not os.path.lexists(env.link)
    assert device(env) == (HALF, 'zstd', 100)


def test_unit_refused_beside_a_foreign_generator_config(env, monkeypatch):
    write(env.config, b'[zram0]\n')
    before = snapshot(env)
    result = run(env, monkeypatch, size='ram / 2', method='unit')
    assert result['failed'] and result['msg'].startswith('method: unit, but %s' % env.config)
    assert snapshot(env) == before


# ---- absent --------------------------------------------------------------------------------------

@pytest.mark.parametrize('method', ['generator', 'unit'])
def test_absent_leaves_no_device_file_or_link(env, monkeypatch, method):
    ok(run(env, monkeypatch, size='ram / 2', method=method))
    predicted = ok(run(env, monkeypatch, check_mode=True, state='absent'))
    result = ok(run(env, monkeypatch, state='absent'))
    for key in ('changed', 'size', 'active', 'files', 'method'):
        assert predicted[key] == result[key], key
    assert result['changed'] and result['files'] == [] and result['size'] == 0 and not result['active']
    assert device(env) is None and not os.path.exists(os.path.join(env.root, 'sys', 'module', 'zram'))
    assert sorted(os.listdir(env.units)) == [] or sorted(os.listdir(env.units)) == ['swap.target.wants']
    assert not os.path.exists(env.config) and not os.path.lexists(env.link)
    assert read(env.swaps) == SWAPS_HEADER
    assert not ok(run(env, monkeypatch, state='absent'))['changed']


def test_absent_removes_debian_default_config_but_keeps_a_config_without_zram0(env, monkeypatch):
    write(env.config, b'[zram0]\n')
    assert ok(run(env, monkeypatch, state='absent'))['changed'] and not os.path.exists(env.config)
    write(env.config, b'# nothing configured\n')
    assert not ok(run(env, monkeypatch, state='absent'))['changed'] and os.path.exists(env.config)


def test_absent_refuses_when_the_swap_in_use_does_not_fit_in_memory(env, monkeypatch):
    ok(run(env, monkeypatch, size='ram / 2'))
    write(env.swaps, SWAPS_HEADER + b'/dev/zram0 partition 240640 200000 100\n')
    write(env.meminfo, meminfo(available_kib=100000))
    before = snapshot(env)
    result = run(env, monkeypatch, state='absent')
    assert result['failed'] and 'more than MemAvailable' in result['msg'] and 'Nothing was changed' in result['msg']
    assert snapshot(env) == before


# ---- bad input and failures -------------------------------------------------------------------------

@pytest.mark.parametrize('args, start', [
    (dict(size='ram * 3'), 'size: ram * 3 is '),
    (dict(size='250%'), 'size: 250% is '),
    (dict(size='2G'), 'size: 2G is '),
    (dict(size='ram / x'), "size: 'ram / x' is not a size"),
    (dict(size='8K', method='unit'), 'size: 8K is 8 KiB (8192 bytes), below the minimum'),
    (dict(size='512K'), 'size: 512K is less than 1 MiB, and systemd-zram-generator sets whole MiB'),
    (dict(size='ram / 2', algorithm='brotli'), 'algorithm: this kernel does not offer brotli'),
    (dict(size='ram / 2', algorithm='zstd; reboot'), "algorithm: 'zstd; reboot' is not"),
    (dict(size='ram / 2', priority=-1), 'priority: -1 is out of range'),
    (dict(size='ram / 2', priority=32768), 'priority: 32768 is out of range'),
    (dict(), 'state is present but all of the following are missing: size'),
])
def test_bad_input_names_the_parameter_and_writes_nothing(env, monkeypatch, args, start):
    ok(run(env, monkeypatch, size='ram / 2'))  # zram0 exists: its comp_algorithm is read
    before = snapshot(env)
    forget_log(env)
    result = run(env, monkeypatch, **args)
    assert result['failed'] and result['msg'].startswith(start), result['msg']
    assert snapshot(env) == before and logged(env) == []


def test_too_large_names_the_limit(env, monkeypatch):
    result = run(env, monkeypatch, size='ram * 3')
    assert 'more than 2 x RAM' in result['msg'] and 'thrash' in result['msg'] and 'ram * 2' in result['msg']


def test_algorithm_message_lists_what_the_kernel_offers(env, monkeypatch):
    ok(run(env, monkeypatch, size='ram / 2'))
    result = run(env, monkeypatch, size='ram / 2', algorithm='842')
    assert 'lists lzo, lzo-rle, lz4, lz4hc, zstd' in result['msg']


@pytest.mark.parametrize('method, fail', [
    ('unit', 'swapon --priority 50'),     # the new device does not go on
    ('unit', 'systemctl enable'),         # enabling fails
    ('generator', 'systemctl start dev-zram0.swap'),
    ('generator', 'systemctl daemon-reload'),
])
def test_failure_part_way_leaves_the_host_as_it_was(env, monkeypatch, method, fail):
    other = 'unit' if method == 'generator' else 'generator'
    ok(run(env, monkeypatch, size='ram / 2', algorithm='zstd', method=other))
    before = snapshot(env)
    old = device(env)
    monkeypatch.setenv('FAKE_ZRAM_FAIL', fail)
    monkeypatch.setenv('FAKE_ZRAM_FAIL_ONCE', '1')
    result = run(env, monkeypatch, size='200M', algorithm='lz4', priority=50, method=method)
    monkeypatch.delenv('FAKE_ZRAM_FAIL')
    os.unlink(os.path.join(env.root, 'failed-once'))
    assert result['failed'] and 'Everything this run changed was undone' in result['msg'], result['msg']
    assert not result['changed'] and result['size'] == old[0] and result['priority'] == old[2]
    assert device(env) == old
    ignore = os.path.join(env.root, 'sys')  # mm_stat of the device made again differs
    assert dict((k, v) for k, v in snapshot(env).items() if not k.startswith(ignore)) == \
        dict((k, v) for k, v in before.items() if not k.startswith(ignore))


def test_a_device_that_comes_up_different_is_undone(env, monkeypatch):
    """The generator only warns about an algorithm the kernel cannot load; the module checks what it got."""
    ok(run(env, monkeypatch, size='ram / 2', algorithm='zstd'))
    before = device(env)
    monkeypatch.setattr(zram_module.zram, 'device_matches', lambda *args: False)
    result = run(env, monkeypatch, size='ram / 2', algorithm='lz4')
    assert result['failed'] and 'after the set-up /dev/zram0 shows size' in result['msg']
    assert device(env) == before and b'zstd' in read(env.config)


def test_hosts_without_systemd_are_refused(env, monkeypatch):
    os.rmdir(os.path.join(env.root, 'run', 'systemd', 'system'))
    before = snapshot(env)
    result = run(env, monkeypatch, size='ram / 2')
    assert result['failed'] and result['msg'].startswith('Not supported on this host: zram swap at boot needs systemd')
    assert snapshot(env) == before
    assert not ok(run(env, monkeypatch, state='absent'))['changed']


def test_a_zram0_that_is_not_swap_and_not_ours_is_left_alone(env, monkeypatch):
    ok(run(env, monkeypatch, size='ram / 2'))
    ok(run(env, monkeypatch, state='absent'))
    os.makedirs(env.block)
    write(os.path.join(env.block, 'disksize'), b'1048576\n')
    write(os.path.join(env.block, 'comp_algorithm'), b'lzo [lzo-rle]\n')
    before = snapshot(env)
    result = run(env, monkeypatch, size='ram / 2')
    assert result['failed'] and 'is set up (disksize 1048576) but is not swap' in result['msg']
    assert not ok(run(env, monkeypatch, state='absent'))['changed'] and snapshot(env) == before


def test_not_root_is_refused(env, monkeypatch):
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    result = run(env, monkeypatch, size='ram / 2')
    assert result['failed'] and 'must run as root' in result['msg']


def test_reset_waits_while_udev_has_the_device_open(env, monkeypatch):
    """The kernel answers EBUSY to a reset while anything has zram0 open, as udev's probe does after a swapoff.
    The module resets a device itself where no service of a method holds it (here: the generator is gone)."""
    ok(run(env, monkeypatch, size='ram / 2'))
    os.unlink(env.generator)
    real_write_once = host.write_once
    answers = []

    def write_once(path, data):
        if path.endswith('reset') and answers:
            raise OSError(answers.pop(0), os.strerror(errno.EBUSY))
        real_write_once(path, data)
    monkeypatch.setattr(host, 'write_once', write_once)
    # busy for longer than RESET_WAIT: a failure, undone
    monkeypatch.setattr(zram_module, 'RESET_WAIT', 0.3)
    answers.extend([errno.EBUSY] * 100)
    before, files = device(env), snapshot(env)
    result = run(env, monkeypatch, size='128M')
    assert result['failed'] and 'resetting /dev/zram0 (1 > ' in result['msg'] and 'Device or resource busy' in result['msg']
    assert 'Everything this run changed was undone' in result['msg'] and device(env) == before
    assert dict((k, v) for k, v in snapshot(env).items() if '/sys/' not in k) == \
        dict((k, v) for k, v in files.items() if '/sys/' not in k)
    # busy twice, then free: it waits
    del answers[:]
    answers.extend([errno.EBUSY, errno.EBUSY])
    assert ok(run(env, monkeypatch, size='128M'))['recreated'] and device(env) == (128 * MIB, 'lzo-rle', 100)
    assert answers == []
