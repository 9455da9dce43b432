# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the reliability tests share: running a module in a real process, fake hosts, snapshots.

Every module runs through driver.py in a process of its own, from the collection copy these tests
live in (make reliability runs them from build/ansible_collections/lowmem/hardening). Each fake
host points every /etc, /var/lib, /proc/sys and /sys path of its module at a temporary directory
through the module-level constants, so no test reads or writes this machine's real ones.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION_ROOT = os.path.dirname(os.path.dirname(HERE))
# The directory holding ansible_collections/: PYTHONPATH and ANSIBLE_COLLECTIONS_PATH for the runs.
COLLECTIONS_DIR = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
DRIVER = os.path.join(HERE, 'driver.py')
SBIN_PATH = os.pathsep.join(['/usr/local/sbin', '/usr/sbin', '/sbin'])
# A safety net against a hung run, far above what any run needs; no test asserts on time.
RUN_LIMIT = 600

MIB = 1024 * 1024
PAGE = os.sysconf('SC_PAGE_SIZE')
TEMP_MARKER = '.lowmem-tmp.'


def inside_collection_copy():
    parts = COLLECTION_ROOT.split(os.sep)
    return parts[-3:] == ['ansible_collections', 'lowmem', 'hardening']


def which(name):
    return shutil.which(name, path=os.pathsep.join([os.environ.get('PATH', ''), SBIN_PATH]))


def write(path, data, mode=None):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, 'wb') as handle:
        handle.write(data if isinstance(data, bytes) else data.encode())
    if mode is not None:
        os.chmod(path, mode)
    return path


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(MIB), b''):
            digest.update(block)
    return digest.hexdigest()


def tree(*tops, **options):
    """Every entry under tops: type and mode, owner, size, content hash or link target, inode, mtime.

    Two equal snapshots mean no byte, mode, owner or name changed. times=False leaves the
    modification times out (a file rewritten with the same bytes then compares equal).
    """
    times = options.get('times', True)
    found = {}
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in ['.'] + dirnames + sorted(filenames):
                path = os.path.normpath(os.path.join(dirpath, name))
                st = os.lstat(path)
                entry = [stat.filemode(st.st_mode), st.st_uid, st.st_gid, st.st_ino]
                if stat.S_ISREG(st.st_mode):
                    entry += [st.st_size, sha256(path)]
                elif stat.S_ISLNK(st.st_mode):
                    entry.append(os.readlink(path))
                if times:
                    entry.append(st.st_mtime_ns)
                found[path] = tuple(entry)
    return found


def temporaries(*directories):
    """Names in directories that a module's interrupted write could have left: dot files other than ours."""
    found = []
    for directory in directories:
        if os.path.isdir(directory):
            found += [os.path.join(directory, name) for name in sorted(os.listdir(directory))
                      if name.startswith('.') or TEMP_MARKER in name]
    return found


def has_swap_signature(path):
    with open(path, 'rb') as handle:
        handle.seek(PAGE - 10)
        return handle.read(10) == b'SWAPSPACE2'


def assert_swapfile(path, size):
    """A complete, private swap file of size bytes."""
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode), path
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 0, 0)
    assert st.st_size == size
    assert st.st_blocks * 512 >= size  # no holes: swapon refuses sparse files
    assert has_swap_signature(path)


# ---- running a module --------------------------------------------------------

Run = collections.namedtuple('Run', 'returncode result stdout stderr')


class Runner(object):
    """Starts driver.py runs whose files (spec, output) live in work, away from the fake host."""

    def __init__(self, work):
        self.work = work
        self.bin = os.path.join(work, 'bin')  # stand-ins for host commands, first on PATH
        if not os.path.isdir(self.bin):
            os.makedirs(self.bin)
        self.started = []

    def environment(self):
        env = dict(os.environ)
        env.update(PYTHONPATH=COLLECTIONS_DIR, LC_ALL='C', HOME=self.work,
                   PATH=os.pathsep.join([self.bin, env.get('PATH', ''), SBIN_PATH]))
        return env

    def start(self, module, args, constants=None, interrupt=None, umask=None, check_mode=False, diff=False):
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff,
                    _ansible_remote_tmp=self.work, _ansible_keep_remote_files=False)
        fd, spec_path = tempfile.mkstemp(dir=self.work, prefix='%s-' % module, suffix='.json')
        with os.fdopen(fd, 'w') as spec_file:
            json.dump(dict(module=module, args=args, constants=constants or {}, interrupt=interrupt,
                           umask=umask), spec_file)
        stdout = open(spec_path + '.out', 'w+b')
        stderr = open(spec_path + '.err', 'w+b')
        process = subprocess.Popen([sys.executable, DRIVER, spec_path], stdin=subprocess.DEVNULL,
                                   stdout=stdout, stderr=stderr, env=self.environment(), cwd=self.work)
        process.outputs = (stdout, stderr)
        self.started.append(process)
        return process

    @staticmethod
    def finish(process):
        """Wait for the process; its return code (-9 when SIGKILLed) and its result dict or None."""
        process.wait(RUN_LIMIT)
        outputs = []
        for handle in process.outputs:
            handle.seek(0)
            outputs.append(handle.read().decode('utf-8', 'replace'))
            handle.close()
        result = None
        for line in reversed(outputs[0].splitlines()):
            if line.startswith('{'):
                result = json.loads(line)
                break
        return Run(process.returncode, result, outputs[0], outputs[1])

    def run(self, module, args, **options):
        return self.finish(self.start(module, args, **options))

    @staticmethod
    def wait_stopped(process):
        """Wait until the process stopped itself (SIGSTOP); False if it ended instead."""
        pid, status = os.waitpid(process.pid, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            return True
        process.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return False

    def stop_all(self):
        """Kill whatever is still running (a test that failed half-way)."""
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
            for handle in process.outputs:
                if not handle.closed:
                    handle.close()


def stub(runner, name, script='exit 0\n'):
    """A stand-in command in the runner's bin directory."""
    return write(os.path.join(runner.bin, name), '#!/bin/sh\n' + script, 0o755)


def succeeded(run):
    assert run.returncode == 0 and run.result is not None and not run.result.get('failed'), run
    return run.result


def failed(run):
    assert run.result is not None and run.result.get('failed'), run
    return run.result


def killed(run):
    """The run died of SIGKILL at the interrupt point, before printing any result."""
    assert run.returncode == -signal.SIGKILL and run.result is None, run
    return run


# ---- fake hosts --------------------------------------------------------------

LMK_DEFAULTS = {'adj': '0,1,6,12\n', 'minfree': '1536,2048,4096,16384\n', 'cost': '32\n', 'debug_level': '1\n'}
LMK_FILES = {
    'tmpfiles': 'etc/tmpfiles.d/lowmemorykiller.conf',
    'sysfsutils': 'etc/sysfs.d/lowmemorykiller.conf',
    'openrc': 'etc/local.d/lowmemorykiller.start',
    'cron': 'etc/cron.d/lowmemorykiller',
}


class LmkHost(object):
    """lowmemorykiller's world under root: parameters as plain files, /etc, /var/lib, /run.

    The parameters are plain files: the module writes each with O_TRUNC, so they read back what
    was written, which is what these tests need (the kernel's array rules are unit-tested).
    systemd-tmpfiles and OpenRC's local.d are both "installed": a stand-in systemd-tmpfiles and
    /run/systemd/system, and /etc/local.d.
    """

    def __init__(self, root, runner):
        self.root = root
        self.runner = runner
        self.params = os.path.join(root, 'sys/module/lowmemorykiller/parameters')
        for name, text in LMK_DEFAULTS.items():
            write(os.path.join(self.params, name), text, 0o644)
        self.files = dict((method, os.path.join(root, rel)) for method, rel in LMK_FILES.items())
        self.state_file = os.path.join(root, 'var/lib/lowmem-hardening/lowmemorykiller.json')
        os.makedirs(os.path.join(root, 'var/lib'))
        os.makedirs(os.path.join(root, 'run/systemd/system'))
        os.makedirs(os.path.join(root, 'etc/local.d'))
        os.makedirs(os.path.join(root, 'proc'))  # no processes: no lmkd
        stub(runner, 'systemd-tmpfiles')
        self.constants = {
            'plugins.module_utils.host': {'STATE_FILE': self.state_file, 'PROC': os.path.join(root, 'proc')},
            'plugins.modules.lowmemorykiller': {
                'SYSTEMD_RUN_DIR': os.path.join(root, 'run/systemd/system'),
                'OPENRC_RUN_DIR': os.path.join(root, 'run/openrc'),
                'SYSFSUTILS_DIR': os.path.join(root, 'etc/sysfs.d'),
                'OPENRC_LOCAL_DIR': os.path.join(root, 'etc/local.d'),
            },
            'plugins.module_utils.lowmemorykiller': {'PERSIST_FILES': self.files},
        }

    def _args(self, args):
        args = dict(args)
        args.setdefault('path', self.params)
        return args

    def start(self, **args):
        options = dict((key, args.pop(key)) for key in ('interrupt', 'umask', 'check_mode', 'diff') if key in args)
        return self.runner.start('lowmemorykiller', self._args(args), constants=self.constants, **options)

    def run(self, **args):
        return self.runner.finish(self.start(**args))

    def texts(self):
        return dict((name, read(os.path.join(self.params, name)).decode()) for name in sorted(LMK_DEFAULTS))

    def boot_file(self, method):
        return read(self.files[method]).decode()

    def state(self):
        with open(self.state_file) as handle:
            return json.load(handle)

    def etc_directories(self):
        return sorted(set(os.path.dirname(path) for path in self.files.values())) + [os.path.dirname(self.state_file)]


def tmpfiles_lines(params, texts, names=('adj', 'minfree')):
    """The lines a tmpfiles boot file must hold to write texts back at boot."""
    return ['w %s/%s - - - - %s' % (params, name, texts[name].strip()) for name in names]


ORIGINAL_FSTAB = (b'# /etc/fstab: static file system information.\r\n'
                  b'UUID=1234-abcd\t/\text4\terrors=remount-ro\t0\t1\r\n'
                  b'UUID=5678-ef01 none swap sw,pri=5 0 0\r\n'
                  b'#/swapfile none swap sw 0 0')


class SwapHost(object):
    """swapfile's world: the swap file in a real directory (a loop-mounted ext4), fstab under root.

    /proc/swaps, /proc/meminfo and /proc/self/mountinfo are the real ones: the loop mount is a real
    ext4 and no test activates swap.
    """

    def __init__(self, directory, root, runner, fstab=ORIGINAL_FSTAB):
        self.directory = directory
        self.path = os.path.join(directory, 'swapfile')
        self.root = root
        self.runner = runner
        self.fstab = os.path.join(root, 'etc/fstab')
        if fstab is not None:
            write(self.fstab, fstab, 0o644)
        elif not os.path.isdir(os.path.dirname(self.fstab)):
            os.makedirs(os.path.dirname(self.fstab))
        self.constants = {'plugins.modules.swapfile': {'FSTAB_PATH': self.fstab}}

    def _args(self, args):
        args = dict(args)
        args.setdefault('path', self.path)
        args.setdefault('active', False)  # swap is kernel-wide: never activated by a test
        return args

    def start(self, **args):
        options = dict((key, args.pop(key)) for key in ('interrupt', 'umask', 'check_mode', 'diff') if key in args)
        return self.runner.start('swapfile', self._args(args), constants=self.constants, **options)

    def run(self, **args):
        return self.runner.finish(self.start(**args))

    def leftovers(self):
        return temporaries(self.directory, os.path.dirname(self.fstab))


SYSCTL_KERNEL = {
    'vm/swappiness': '60\n',
    'vm/vfs_cache_pressure': '100\n',
    'vm/overcommit_memory': '0\n',
}


class SysctlHost(object):
    """sysctl's world under root: /proc/sys as plain files and /etc/sysctl.d."""

    def __init__(self, root, runner):
        self.root = root
        self.runner = runner
        self.proc_sys = os.path.join(root, 'proc/sys')
        for rel, text in SYSCTL_KERNEL.items():
            write(os.path.join(self.proc_sys, rel), text, 0o644)
        self.conf = os.path.join(root, 'etc/sysctl.d/60-lowmem-hardening.conf')
        os.makedirs(os.path.dirname(self.conf))
        self.constants = {'plugins.modules.sysctl': {'PROC_SYS': self.proc_sys}}

    def start(self, **args):
        options = dict((key, args.pop(key)) for key in ('interrupt', 'umask', 'check_mode', 'diff') if key in args)
        args.setdefault('file', self.conf)
        return self.runner.start('sysctl', args, constants=self.constants, **options)

    def run(self, **args):
        return self.runner.finish(self.start(**args))

    def kernel(self, rel):
        return read(os.path.join(self.proc_sys, rel)).decode()


class InfoHost(object):
    """lowmemorykiller_info's world under root: every path it reads, and stand-ins for dmesg and journalctl."""

    def __init__(self, root, runner):
        self.root = root
        self.runner = runner
        self.params = os.path.join(root, 'sys/module/lowmemorykiller/parameters')
        for name, text in LMK_DEFAULTS.items():
            write(os.path.join(self.params, name), text, 0o644)
        write(self.path('proc/meminfo'), 'MemTotal: 524288 kB\nMemFree: 10000 kB\nMemAvailable: 262144 kB\n'
                                         'SwapTotal: 0 kB\nSwapFree: 0 kB\n')
        write(self.path('proc/swaps'), 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n')
        write(self.path('proc/stat'), 'cpu  1 2 3\nbtime 1700000000\n')
        write(self.path('proc/cmdline'), 'root=/dev/vda ro quiet\n')
        write(self.path('proc/1/oom_score_adj'), '0\n')
        write(self.path('var/log/kern.log'),
              'Feb  4 02:28:44 web1 kernel: [12345.678901] lowmemorykiller: send sigkill to 1204 (mysqld), '
              'adj 0, size 51200\n')
        dmesg = stub(runner, 'dmesg', 'echo "[  1.0] lowmemorykiller: send sigkill to 77 (cron), adj 0, size 9"\n')
        self.constants = {
            'plugins.modules.lowmemorykiller_info': {
                'PROC_STAT': self.path('proc/stat'), 'CMDLINE': self.path('proc/cmdline'),
                'KMSG': self.path('dev/kmsg'), 'DMESG': dmesg, 'JOURNALCTL': self.path('bin/no-journalctl'),
                'LOG_FILES': [self.path('var/log/kern.log'), self.path('var/log/syslog'),
                              self.path('var/log/messages')],
                'BOOT_FILES': [self.path('etc/sysfs.conf'), self.path('etc/rc.local')],
                'EARLYOOM_DEFAULTS': [self.path('etc/default/earlyoom')],
                'OOMD_CONF': self.path('etc/systemd/oomd.conf'),
                'OOMD_DROPIN_DIRS': [self.path('etc/systemd/oomd.conf.d')],
                'NOHANG_CONFS': [self.path('etc/nohang/nohang.conf')],
                'KILLER_BINARIES': dict((name, [self.path('bin', name)])
                                        for name in ('lmkd', 'earlyoom', 'systemd-oomd', 'nohang')),
            },
            'plugins.module_utils.lowmemorykiller': {
                'PERSIST_FILES': dict((method, self.path(rel)) for method, rel in LMK_FILES.items()),
            },
            'plugins.module_utils.host': {
                'MEMINFO': self.path('proc/meminfo'), 'PROC_SWAPS': self.path('proc/swaps'), 'PROC': self.path('proc'),
            },
        }

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def run(self, **args):
        options = dict((key, args.pop(key)) for key in ('check_mode',) if key in args)
        args.setdefault('path', self.params)
        return self.runner.run('lowmemorykiller_info', args, constants=self.constants, **options)
