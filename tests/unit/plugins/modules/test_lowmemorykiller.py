# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module against a temporary directory whose files behave like the kernel's (kernel_model)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import errno
import fcntl
import json
import os
import stat
import threading

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils import host as host_layer
from ansible_collections.lowmem.hardening.plugins.module_utils import lowmemorykiller as lmk_utils
from ansible_collections.lowmem.hardening.plugins.modules import lowmemorykiller as module

from ansible_collections.lowmem.hardening.tests.unit.plugins.modules.kernel_model import KernelModel
from ansible_collections.lowmem.hardening.tests.unit.plugins.modules.utils import run_module

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='the module needs root (it chowns files to root)')

DEFAULT_TEXTS = {'adj': '0,1,6,12\n', 'minfree': '1536,2048,4096,16384\n', 'cost': '32\n', 'debug_level': '1\n'}


class Host(object):
    """A fake host: a kernel model, an /etc for boot files, a state file and /proc."""

    def __init__(self, tmp_path, monkeypatch, **model_args):
        self.root = str(tmp_path)
        self.monkeypatch = monkeypatch
        self.params = os.path.join(self.root, 'sys/module/lowmemorykiller/parameters')
        self.kernel = KernelModel(self.params, **model_args)
        self.files = dict((m, os.path.join(self.root, f.lstrip('/'))) for m, f in lmk_utils.PERSIST_FILES.items())
        self.state_file = os.path.join(self.root, 'var/lib/lowmem-hardening/lowmemorykiller.json')
        self.proc = os.path.join(self.root, 'proc')
        os.makedirs(self.proc)
        meminfo = os.path.join(self.root, 'meminfo')
        with open(meminfo, 'w') as f:
            f.write('MemTotal:         524288 kB\nMemFree:           10000 kB\n')
        self.methods = set(['tmpfiles', 'cron', 'openrc', 'openrc-local-at-boot', 'sysfsutils'])
        monkeypatch.setattr(lmk_utils, 'PERSIST_FILES', self.files)
        monkeypatch.setattr(host_layer, 'STATE_FILE', self.state_file)
        monkeypatch.setattr(host_layer, 'MEMINFO', meminfo)
        monkeypatch.setattr(host_layer, 'PROC', self.proc)
        monkeypatch.setattr(host_layer, 'write_once', self.kernel.write)
        monkeypatch.setattr(module, 'available_persist_methods', lambda _module: set(self.methods))

    def run(self, check_mode=False, diff=False, **args):
        args.setdefault('path', self.params)
        return run_module(module.main, args, check_mode=check_mode, diff=diff, monkeypatch=self.monkeypatch)

    def texts(self):
        return dict((name, self.kernel.text(name)) for name in self.kernel.params)

    def snapshot(self):
        """Every byte under the fake root, with modes: what 'nothing changed' is checked against."""
        found = {}
        for top, dirs, names in os.walk(self.root):
            for name in dirs + names:
                full = os.path.join(top, name)
                st = os.lstat(full)
                content = None
                if stat.S_ISREG(st.st_mode):
                    with open(full, 'rb') as f:
                        content = f.read()
                found[os.path.relpath(full, self.root)] = (stat.S_IMODE(st.st_mode), content)
        return found

    def read(self, method):
        with open(self.files[method]) as f:
            return f.read()


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


@pytest.fixture
def android(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch, autodetect=True)


# -- the main job --------------------------------------------------------------

def test_disable_then_idempotent(host):
    result = host.run(state='disabled')
    assert result['changed'] is True, result
    assert host.texts()['adj'] == '9999\n' and host.texts()['minfree'] == '1\n'
    assert result['before']['adj'] == [0, 1, 6, 12]
    assert result['after'] == {'adj': [9999], 'minfree': [1], 'cost': 32, 'debug_level': 1}
    assert result['disabled'] is True
    assert result['thresholds'] == [{'minfree_pages': 1, 'minfree_bytes': result['page_size'],
                                     'minfree_percent': float('%.3g' % (100.0 * result['page_size'] / (512 << 20))),
                                     'adj': 9999}]
    assert result['persist'] == {'method': 'tmpfiles', 'file': host.files['tmpfiles']}
    assert host.read('tmpfiles').splitlines()[2:] == ['w %s/adj - - - - 9999' % host.params,
                                                      'w %s/minfree - - - - 1' % host.params]
    st = os.stat(host.files['tmpfiles'])
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)

    again = host.run(state='disabled')
    assert again['changed'] is False, again
    assert again['before'] == again['after'] == result['after']
    assert len(host.kernel.writes) == 2


def test_state_file_saves_the_first_values_once(host):
    host.run(state='disabled')
    host.run(minfree=[100, 200], adj=[0, 500])
    st = os.stat(host.state_file)
    assert stat.S_IMODE(st.st_mode) == 0o600
    with open(host.state_file) as f:
        saved = json.load(f)['paths'][host.params]
    assert saved['original'] == DEFAULT_TEXTS
    assert saved['persisted'] == ['adj', 'minfree']


def test_adhoc_single_minfree_warns_about_ignored_adj(host):
    result = host.run(minfree=['1'], persist='none')
    assert result['changed'] is True
    assert host.texts()['minfree'] == '1\n' and host.texts()['adj'] == '0,1,6,12\n'
    assert any('entries 1,6,12 are ignored' in w for w in result['warnings']), result['warnings']
    assert result['thresholds'] == [{'minfree_pages': 1, 'minfree_bytes': result['page_size'],
                                     'minfree_percent': result['thresholds'][0]['minfree_percent'], 'adj': 0}]
    assert not os.path.exists(host.files['tmpfiles'])  # persist=none writes no boot file


def test_sizes_and_percentages_become_pages(host):
    page = os.sysconf('SC_PAGE_SIZE')
    result = host.run(minfree=['4M', '8MiB', '2%', '12.5%'], adj=[0, 100, 200, 900])
    two_percent = -(-(512 << 20) * 2 // (100 * page))  # rounded up to whole pages
    expected = [(4 << 20) // page, (8 << 20) // page, two_percent, (512 << 20) // 8 // page]
    assert result['after']['minfree'] == expected
    assert host.texts()['minfree'] == ','.join(str(p) for p in expected) + '\n'
    assert [t['minfree_percent'] for t in result['thresholds']][-1] == 12.5


def test_cost_debug_level_and_vendor_params(tmp_path, monkeypatch):
    vendor = {'enable_adaptive_lmk': ('bool', None, True), 'vmpressure_file_min': ('scalar', 'int', 81250)}
    host = Host(tmp_path, monkeypatch, vendor=vendor)
    args = dict(cost=16, debug_level=0, extra_params={'enable_adaptive_lmk': 0, 'vmpressure_file_min': 50000})
    result = host.run(**args)
    assert result['changed'] is True
    assert host.texts()['enable_adaptive_lmk'] == 'N\n' and host.texts()['vmpressure_file_min'] == '50000\n'
    assert result['after']['cost'] == 16 and result['after']['debug_level'] == 0
    assert 'w %s/enable_adaptive_lmk - - - - N' % host.params in host.read('tmpfiles')
    assert host.run(**args)['changed'] is False
    # 'N', False and 0 mean the same for a Y/N parameter
    assert host.run(extra_params={'enable_adaptive_lmk': 'N'})['changed'] is False


# -- Android's oom_adj autodetection ---------------------------------------------

def test_android_autodetect_is_idempotent(android):
    android.kernel.set('adj', [0, 100, 200, 300])
    first = android.run(adj=[0, 1, 6, 12], minfree=[1536, 2048, 4096, 16384])
    assert first['changed'] is True
    assert android.texts()['adj'] == '0,58,352,705\n'
    assert first['after']['adj'] == [0, 58, 352, 705]
    # The boot file holds what the kernel shows: written again at boot it reads back the same.
    assert 'w %s/adj - - - - 0,58,352,705' % android.params in android.read('tmpfiles')
    for dummy in range(2):
        again = android.run(adj=[0, 1, 6, 12], minfree=[1536, 2048, 4096, 16384])
        assert again['changed'] is False, again
    assert len(android.kernel.writes) == 1


def test_android_autodetect_check_mode_predicts_no_change(android):
    android.kernel.set('adj', [0, 58, 352, 705])
    result = android.run(check_mode=True, adj=[0, 1, 6, 12], persist='none')
    assert result['changed'] is False


def test_mainline_learns_it_does_not_convert(host):
    host.run(adj=[0, 2, 6, 12], persist='none')  # reveals: this kernel stores oom_adj values as written
    host.kernel.set('adj', [0, 58, 352, 705])
    result = host.run(adj=[0, 1, 6, 12], persist='none')
    assert result['changed'] is True
    assert host.texts()['adj'] == '0,1,6,12\n'


# -- check mode and diff ---------------------------------------------------------

def test_check_mode_predicts_exactly_and_writes_nothing(host):
    before = host.snapshot()
    predicted = host.run(check_mode=True, diff=True, state='disabled')
    assert host.snapshot() == before
    assert host.kernel.writes == []
    assert predicted['changed'] is True
    real = host.run(state='disabled')
    for key in ('changed', 'after', 'thresholds', 'disabled', 'persist'):
        assert predicted[key] == real[key], key
    assert host.run(check_mode=True, state='disabled')['changed'] is False


def test_diff_shows_parameters_and_boot_file(host):
    host.run(state='disabled', persist='cron')
    result = host.run(diff=True, minfree=[1024, 2048], adj=[0, 900], persist='tmpfiles')
    params, *files = result['diff']
    assert params['before'] == 'adj = 9999\nminfree = 1\ncost = 32\ndebug_level = 1\n'
    assert params['after'] == 'adj = 0,900\nminfree = 1024,2048\ncost = 32\ndebug_level = 1\n'
    by_file = dict((d['after_header'], d) for d in files)
    assert by_file[host.files['cron']]['after'] == '' and '@reboot root echo 9999' in by_file[host.files['cron']]['before']
    assert by_file[host.files['tmpfiles']]['before'] == ''
    assert 'minfree - - - - 1024,2048' in by_file[host.files['tmpfiles']]['after']


# -- persistence -------------------------------------------------------------------

def test_switching_method_removes_the_other_file(host):
    host.run(state='disabled', persist='cron')
    assert '@reboot root echo 1 > %s/minfree' % host.params in host.read('cron')
    result = host.run(state='disabled', persist='tmpfiles')
    assert result['changed'] is True
    assert not os.path.exists(host.files['cron'])
    assert os.path.exists(host.files['tmpfiles'])


def test_openrc_script_is_executable(host):
    host.run(state='disabled', persist='openrc')
    st = os.stat(host.files['openrc'])
    assert stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == 0
    assert host.read('openrc').startswith('#!/bin/sh\n')


def test_auto_prefers_tmpfiles_then_openrc_then_cron(host):
    host.methods = set(['cron', 'openrc', 'openrc-local-at-boot'])
    assert host.run(state='disabled')['persist']['method'] == 'openrc'
    host.methods = set(['cron'])
    assert host.run(state='disabled')['persist']['method'] == 'cron'
    assert not os.path.exists(host.files['openrc'])


def test_auto_skips_openrc_where_its_local_service_does_not_start_at_boot(host):
    # Debian's openrc ships no `local` service at all: /etc/local.d would never run at boot (seen on a
    # real Debian OpenRC boot in the Molecule scenario kernel).
    host.methods = set(['cron', 'openrc'])
    result = host.run(state='disabled')
    assert result['persist']['method'] == 'cron'
    assert not os.path.exists(host.files['openrc'])
    assert not any('rc-update' in warning for warning in result.get('warnings', []))


def test_explicit_openrc_where_local_does_not_start_at_boot_warns(host):
    host.methods = set(['cron', 'openrc'])
    result = host.run(state='disabled', persist='openrc')
    assert result['persist']['method'] == 'openrc'
    assert os.path.exists(host.files['openrc'])
    assert any('will not run at boot' in warning for warning in result['warnings']), result


def test_boot_file_follows_later_runs(host):
    host.run(cost=16)
    assert 'cost - - - - 16' in host.read('tmpfiles')
    host.run(minfree=[1])  # cost was set once: it stays in the boot file
    lines = host.read('tmpfiles').splitlines()[2:]
    assert lines == ['w %s/adj - - - - 0,1,6,12' % host.params, 'w %s/minfree - - - - 1' % host.params,
                     'w %s/cost - - - - 16' % host.params]


def test_persist_none_leaves_boot_files_alone(host):
    host.run(state='disabled')
    content = host.read('tmpfiles')
    host.run(minfree=[5, 6], adj=[0, 1], persist='none')
    assert host.read('tmpfiles') == content


# -- restore ----------------------------------------------------------------------

def test_restored_puts_everything_back(host):
    before = host.snapshot()
    host.run(state='disabled', cost=10, persist='cron')
    host.run(minfree=['8M'], adj=[0], persist='tmpfiles')
    result = host.run(state='restored')
    assert result['changed'] is True
    assert host.texts() == DEFAULT_TEXTS
    assert not os.path.exists(host.files['tmpfiles']) and not os.path.exists(host.files['cron'])
    assert not os.path.exists(os.path.dirname(host.state_file))
    after = host.snapshot()
    # Only empty directories made for boot files remain.
    assert dict((k, v) for k, v in after.items() if v[1] is not None) == \
        dict((k, v) for k, v in before.items() if v[1] is not None)
    assert host.run(state='restored')['changed'] is False


def test_restored_with_nothing_saved_is_ok(host):
    result = host.run(state='restored')
    assert result['changed'] is False and result['after'] == result['before']


# -- failures leave the host as it was --------------------------------------------

def test_second_write_fails_first_is_restored(host):
    before = host.snapshot()
    host.kernel.fail_write = {2: errno.EINVAL}
    result = host.run(adj=[0, 900], minfree=[100, 200])
    assert result.get('failed'), result
    assert result['msg'].startswith('minfree: writing 100,200 failed with EINVAL')
    assert 'restored' in result['msg']
    assert host.snapshot() == before
    assert host.texts() == DEFAULT_TEXTS
    # minfree is restored too: a failed array write may have stored part of the new value
    assert [write[0] for write in host.kernel.writes] == ['adj', 'minfree', 'minfree', 'adj']


def test_partial_array_store_is_rolled_back(host):
    """The kernel stores 6 entries, then refuses the 7th: the module must undo the truncated table."""
    before = host.snapshot()
    result = host.run(minfree=[1, 2, 3, 4, 5, 6, 7], max_entries=7, persist='none')
    assert result.get('failed'), result
    assert 'minfree: writing 1,2,3,4,5,6,7 failed with EINVAL' in result['msg']
    assert host.snapshot() == before


def test_read_back_mismatch_is_rolled_back(host):
    before = host.snapshot()
    host.kernel.store_instead = {'minfree': [42]}
    result = host.run(state='disabled')
    assert result.get('failed')
    assert result['msg'].startswith('minfree: wrote 1 but the kernel shows 42')
    # Restoring minfree goes through the same faulty store: the message must say so, not claim success.
    assert 'Rollback was incomplete: minfree shows 42, was 1536,2048,4096,16384' in result['msg']
    assert host.texts()['adj'] == '0,1,6,12\n'
    host.kernel.store_instead = {}
    after = host.snapshot()
    del before['sys/module/lowmemorykiller/parameters/minfree'], after['sys/module/lowmemorykiller/parameters/minfree']
    assert after == before


# A failed first element leaves an array with no entry, which reads back as 0 bytes (recorded on the
# real kernel: test_kernel_param_writes.py), e.g. after `echo ' 5' > adj`. No write can store an
# empty array: only a write that fails with EINVAL at its first element leaves one.

def test_restored_puts_back_an_empty_array(host):
    host.kernel.set('adj', [])
    host.run(state='disabled', persist='none')
    result = host.run(state='restored')
    assert not result.get('failed'), result['msg']
    assert host.texts()['adj'] == ''


def test_rollback_to_an_empty_array_is_complete(host):
    host.kernel.set('adj', [])
    before = host.snapshot()
    host.kernel.fail_write = {2: errno.EINVAL}
    result = host.run(adj=[0, 900], minfree=[100, 200], persist='none')
    assert result.get('failed'), result
    assert host.snapshot() == before
    assert 'Every parameter and file was restored' in result['msg'], result['msg']


def test_read_only_sysfs(host):
    before = host.snapshot()
    host.kernel.read_only = True
    result = host.run(state='disabled')
    assert result.get('failed')
    assert 'EROFS' in result['msg'] and 'read-only file system' in result['msg']
    assert host.snapshot() == before


def test_refused_values_report_what_the_run_saw(host):
    """1% of 512 MiB is below 8M: refused, and the result still tells the truth about the host."""
    before = host.snapshot()
    result = host.run(minfree=['4M', '8M', '1%', '2%'], adj=[0, 100, 200, 900])
    assert result['failed'] and result['msg'].startswith('minfree: values must be strictly ascending')
    assert result['present'] is True and result['before'] == lmk_utils.parse_params(DEFAULT_TEXTS)
    assert result['after'] == result['before'] and result['changed'] is False
    assert host.snapshot() == before and host.kernel.writes == []


def test_readme_example_holds_on_512_mib(host):
    result = host.run(minfree=['4M', '8M', '2%', '3%'], adj=[0, 100, 200, 900], persist='none')
    assert not result.get('failed'), result['msg']
    assert result['after']['minfree'] == [1024, 2048, 2622, 3933]


def test_eperm(host):
    before = host.snapshot()
    host.kernel.fail_write = {1: errno.EPERM}
    result = host.run(state='disabled')
    assert result['msg'].startswith('adj: writing 9999 failed with EPERM')
    assert host.snapshot() == before


def test_boot_file_failure_rolls_back_sysfs(host, monkeypatch):
    before = host.snapshot()

    def broken(self, dest, content, mode=None, **options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), dest)
    monkeypatch.setattr(host_layer.Changes, 'write_file', broken)
    result = host.run(state='disabled')
    assert result.get('failed')
    assert 'No space left' in result['msg']
    assert host.snapshot() == before


def test_not_root_fails_before_touching_anything(host, monkeypatch):
    before = host.snapshot()
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    result = host.run(state='disabled')
    assert result.get('failed')
    assert 'root' in result['msg'] and 'become: true' in result['msg']
    assert host.snapshot() == before and host.kernel.writes == []


def test_lmkd_running_is_reported(host):
    os.makedirs(os.path.join(host.proc, '321'))
    with open(os.path.join(host.proc, '321', 'comm'), 'w') as f:
        f.write('lmkd\n')
    result = host.run(state='disabled')
    assert any('lmkd is running' in w for w in result['warnings'])


def test_missing_driver_is_skipped(tmp_path, monkeypatch):
    host = Host(tmp_path, monkeypatch)
    result = host.run(path=str(tmp_path / 'nope'), state='disabled')
    assert result['changed'] is False and result['present'] is False
    assert 'no lowmemorykiller' in result['msg']


# -- bad input: a clear error naming the parameter, and nothing written ------------

BAD_INPUTS = [
    (dict(minfree=['abc']), 'minfree', 'integer number of pages'),
    (dict(minfree=[1, 2, 3, 4, 5, 6, 7]), 'minfree', 'at most 6'),
    (dict(adj=[0, 1, 2, 3, 4, 5, 6]), 'adj', 'at most 6'),
    (dict(minfree=['-1']), 'minfree', 'out of range'),
    (dict(adj=[40000]), 'adj', 'out of range'),
    (dict(adj=[-2000]), 'adj', 'out of range'),
    (dict(minfree=['64X']), 'minfree', 'size with a unit'),
    (dict(minfree=['0%']), 'minfree', 'above 0%'),
    (dict(minfree=['150%']), 'minfree', 'at most 100%'),
    (dict(extra_params={'no_such_param': 1}), 'extra_params.no_such_param', 'no such parameter'),
    (dict(minfree=[1, 2], adj=[0]), 'adj, minfree', 'same number of entries'),
    (dict(minfree=[4096, 2048]), 'minfree', 'strictly ascending'),
    (dict(adj=[12, 6, 1]), 'adj', 'strictly ascending'),
    (dict(minfree=[1], missing='fail', path='/nonexistent/lowmemorykiller'), 'path', 'no lowmemorykiller'),
    (dict(cost=0), 'cost', 'out of range'),
    (dict(debug_level=-3), 'debug_level', 'out of range'),
    (dict(state='disabled', adj=[0]), 'adj', 'state=disabled'),
    (dict(state='restored', minfree=[1]), 'minfree', 'state=restored'),
    (dict(), 'state=present', 'at least one of'),
    (dict(extra_params={'adj': 5}), 'extra_params', 'own option'),
    (dict(extra_params={'x y': 5}), 'extra_params', 'parameter name'),
    (dict(minfree=[1], max_entries=0), 'max_entries', '1 or more'),
    (dict(minfree=[1], path='relative/params'), 'path', 'absolute path'),
    (dict(minfree=[1], persist='sysfsutils', path='OUTSIDE_SYS'), 'persist', 'sysfsutils only writes under /sys'),
    (dict(minfree=[1.5]), 'minfree', 'integer number of pages'),
    (dict(minfree=[True]), 'minfree', 'integer number of pages'),
]


@pytest.mark.parametrize('args, param, fragment', BAD_INPUTS, ids=[str(i) for i in range(len(BAD_INPUTS))])
def test_bad_input(host, args, param, fragment):
    if args.get('path') == 'OUTSIDE_SYS':
        args = dict(args, path=host.params)  # the fake lives under a temporary directory, not /sys
    before = host.snapshot()
    result = host.run(**args)
    assert result.get('failed'), result
    assert result['msg'].startswith(param), result['msg']
    assert fragment in result['msg'], result['msg']
    assert host.snapshot() == before
    assert host.kernel.writes == []


def test_no_boot_mechanism_is_a_clear_error(host):
    before = host.snapshot()
    host.methods = set()
    result = host.run(state='disabled')
    assert result['msg'].startswith('persist: auto found no boot-time mechanism')
    assert host.snapshot() == before


def test_unavailable_method_is_a_clear_error(host):
    host.methods = set(['cron'])
    result = host.run(state='disabled', persist='openrc')
    assert result['msg'] == 'persist: openrc is not available on this host (found: cron)'


def test_boot_files_of_another_path_are_left_alone(host):
    other = '# Managed by lowmem.hardening.lowmemorykiller: written at boot to /sys/module/lowmemorykiller/parameters.\n'
    os.makedirs(os.path.dirname(host.files['cron']))
    with open(host.files['cron'], 'w') as f:
        f.write(other)
    host.run(state='disabled', persist='tmpfiles')
    host.run(state='restored')
    with open(host.files['cron']) as f:
        assert f.read() == other


def test_a_second_run_waits_for_the_lock(host):
    """Another run holds the lock on the parameters directory: this one writes only after it is released."""
    fd = os.open(host.params, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    released = threading.Event()
    write = host.kernel.write

    def write_after_release(path, data):
        assert released.is_set(), 'wrote while another run held the lock'
        return write(path, data)
    host.monkeypatch.setattr(host_layer, 'write_once', write_after_release)

    def release():
        released.set()
        fcntl.flock(fd, fcntl.LOCK_UN)
    timer = threading.Timer(0.3, release)
    timer.start()
    try:
        result = host.run(state='disabled', persist='none')
    finally:
        timer.join()
        os.close(fd)
    assert result['changed'] is True and host.texts()['adj'] == '9999\n'


def test_state_file_is_never_readable_by_others(host, monkeypatch):
    """atomic_move gives new files 0666 & ~umask: the state file must be 0600 the moment it appears."""
    from ansible.module_utils.basic import AnsibleModule
    seen = []
    real_move = AnsibleModule.atomic_move

    def move_and_look(self, src, dest, *args, **kwargs):
        real_move(self, src, dest, *args, **kwargs)
        if dest == host.state_file:
            seen.append(stat.S_IMODE(os.stat(dest).st_mode))
    monkeypatch.setattr(AnsibleModule, 'atomic_move', move_and_look)
    host.run(state='disabled', persist='none')
    assert seen and set(seen) == set([0o600])
