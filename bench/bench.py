# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks: lowmem.hardening side by side with what users would run instead.

  python bench/bench.py [--quick] [--runs N] [--only 1,2,...] [--results DIR]

`make bench` runs every measurement at full size and writes bench/results/latest.json and
latest.md; `make bench-quick` runs the same code at tiny sizes, once, on one host, only to
show that it works (no time is judged). bench/README.md says what each measurement is.

Every command is printed before it runs. Each measurement alternates with its baseline
(A B, then B A, ...) and is repeated; results give the median, min and max of each and the
ratio of the medians. The machine's load (uptime) is recorded before and after each one.

Needs root (rootful podman, swapon, loop devices), the images of tests/containers and
.venv-molecule (ansible-core, containers.podman): `make bench` provides them. It starts and
removes its own containers (named lowmem-bench-PID-...), and undoes its swap and loop mounts,
also after a failure or Ctrl-C; leftovers of a run that was killed are removed by the next.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BUILD = os.path.join(REPO, 'build', 'bench')
VENV_BIN = os.path.join(REPO, '.venv-molecule', 'bin')
ANSIBLE_CFG = os.path.join(HERE, 'ansible.cfg')
CONTAINERS_CONF = os.path.join(REPO, 'tests', 'containers', 'containers.conf')
PODMAN_COLLECTION = os.path.join(REPO, '.venv-molecule', 'collections', 'ansible_collections', 'containers', 'podman')
NAIVE_PLAYBOOK = 'bench/baselines/naive-lowmem.yml'
KILLLOG_SCAN = 'bench/killlog_scan.py'

IMAGE_PYTHON = 'localhost/lowmem-hardening/debian12:python'
IMAGE_SYSTEMD = 'localhost/lowmem-hardening/debian12:systemd'
IMAGE_SSH = 'localhost/lowmem-hardening/bench-ssh'
IMAGE_SSH_DIR = os.path.join(HERE, 'images', 'bench-ssh')
NAME_PREFIX = 'lowmem-bench-'
RUN_LABEL = 'lowmem-hardening.bench-run'
LMK_MOUNT = '/sys/module/lowmemorykiller/parameters'
# The grep a user would run instead of the parser: the keywords of every kill record format.
GREP_PATTERN = 'ill|SIG|ictim|badness'

# per_call: pairs of calls inside one playbook (measurement 1); each is about a second, and more
# samples make the median hold under other people's load.
# floor_runs: the fleet's transport floor, a diagnosis only, and as long as the role at 30 hosts.
FULL = dict(runs=7, fleet_runs=5, floor_runs=3, fleet_sizes=(1, 10, 30), per_call=21, swap_size='4G', role_swap_size='64M',
            log_mb=(20, 200))
QUICK = dict(runs=1, fleet_runs=1, floor_runs=1, fleet_sizes=(1,), per_call=1, swap_size='16M', role_swap_size='16M',
             log_mb=(0.2, 2))
MEASUREMENTS = ('1', '2', '3', '4', '5')


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------
# Running and printing commands

class Outcome(object):
    def __init__(self, argv, seconds, rc, out, err, maxrss_kb):
        self.argv = argv
        self.seconds = seconds
        self.rc = rc
        self.out = out
        self.err = err
        self.maxrss_kb = maxrss_kb


class Shell(object):
    """Runs commands, printing each one first (with the environment it adds) so it can be rerun."""

    def __init__(self, env):
        self.env = env
        self.section = None
        self.commands = {}

    @staticmethod
    def render(argv, extra_env=None):
        words = ['%s=%s' % (key, shlex.quote(value)) for key, value in sorted((extra_env or {}).items())]
        return ' '.join(words + [shlex.quote(word) for word in argv])

    def run(self, argv, extra_env=None, check=True, timed=False, timeout=1800, show=True):
        text = self.render(argv, extra_env)
        if show:
            print('%s %s' % ('+' if not timed else '+ [timed]', text), flush=True)
        if self.section is not None:
            seen = self.commands.setdefault(self.section, [])
            entry = dict(command=text, timed=timed)
            if entry not in seen:
                seen.append(entry)
        env = dict(self.env)
        env.update(extra_env or {})
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
            timer = threading.Timer(timeout, _kill_group, (proc.pid,))
            timer.start()
            try:
                # wait4, not wait: the child's own resource usage (max RSS) comes with it.
                _pid, status, usage = _wait4(proc.pid)
            except BaseException:
                _kill_group(proc.pid)
                _wait4(proc.pid)
                raise
            finally:
                timer.cancel()
            seconds = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            result = Outcome(argv, seconds, proc.returncode, out.read().decode('utf-8', 'replace'),
                             err.read().decode('utf-8', 'replace'), usage.ru_maxrss)
        if check and result.rc != 0:
            raise BenchError(failure_report(text, result))
        return result


def failure_report(text, result):
    """The error lines and the tail of a failed command's output; all of it in a file kept in build/bench."""
    output = result.out + result.err
    os.makedirs(BUILD, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=BUILD, prefix='failed-%d-' % os.getpid(), suffix='.log')
    with os.fdopen(fd, 'w') as log:
        log.write('%s\n(rc=%d)\n%s' % (text, result.rc, output))
    lines = output.strip().splitlines()
    errors = [line[:1500] for line in lines if re.search(r'fatal:|FAILED!|\[ERROR\]|^ERROR', line)][:10]
    return 'command failed (rc=%d): %s\n%s\n...\n%s\n(whole output: %s)' % (
        result.rc, text, '\n'.join(errors), '\n'.join(lines[-25:]), path)


def _wait4(pid):
    while True:
        try:
            return os.wait4(pid, 0)
        except InterruptedError:
            continue


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


# ---------------------------------------------------------------------------
# Statistics and interleaving

def summary(samples):
    return dict(median=statistics.median(samples), min=min(samples), max=max(samples), n=len(samples),
                samples=[round(sample, 4) for sample in samples])


def ratio(ours, theirs):
    return ours['median'] / theirs['median'] if theirs['median'] else None


def interleave(runs, variants, limits=None):
    """Run each variant `runs` times, rotating the order every round (A B, B A for two).

    variants: [(key, callable returning seconds)]; limits: {key: rounds} for a variant run in the
    first rounds only. Returns {key: [seconds...]}.
    """
    samples = dict((key, []) for key, _run in variants)
    for round_index in range(runs):
        order = variants[round_index % len(variants):] + variants[:round_index % len(variants)]
        if len(variants) == 2 and round_index % 2:
            order = list(reversed(variants))
        for key, run in order:
            if round_index < (limits or {}).get(key, runs):
                samples[key].append(run())
    return samples


def uptime():
    with open('/proc/loadavg') as loadavg:
        fields = loadavg.read().split()
    return '%s %s %s' % tuple(fields[:3])


# ---------------------------------------------------------------------------
# The bench run: containers, disks, swap and cleanup

class Bench(object):

    def __init__(self, args, sizes):
        self.args = args
        self.sizes = sizes
        self.pid = os.getpid()
        self.run_dir = os.path.join(BUILD, 'run-%d' % self.pid)
        self.collections = os.path.join(self.run_dir, 'collections')
        self.collection = os.path.join(self.collections, 'ansible_collections', 'lowmem', 'hardening')
        # The copy's playbook: the collection measured is the one in the copy, as a whole.
        self.harden = os.path.join(self.collection, 'playbooks', 'harden-lowmem.yml')
        # Short paths for ssh's control sockets (108 bytes at most) and the per-run keys.
        self.tmp_dir = None
        self.containers = []
        self.swapfiles = []
        self.loop_mount = None
        self.disk_root = None
        env = dict(os.environ)
        # Python caches bytecode unless told not to; a caller's shell that says so (this machine's does)
        # would make every timed Python process compile its sources again.
        env.pop('PYTHONDONTWRITEBYTECODE', None)
        env.update(self.base_env(self.run_dir))
        self.shell = Shell(env)
        self.results = []
        self.commit = None

    @staticmethod
    def base_env(run_dir):
        # Ansible's home and collections are the run's own: concurrent runs (make test runs
        # bench-quick) and a reinstall of containers.podman by make molecule-venv do not touch them.
        return {
            'PATH': VENV_BIN + os.pathsep + os.environ.get('PATH', ''),
            'ANSIBLE_CONFIG': ANSIBLE_CFG,
            'ANSIBLE_HOME': os.path.join(run_dir, 'ansible-home'),
            'ANSIBLE_COLLECTIONS_PATH': os.path.join(run_dir, 'collections'),
            'CONTAINERS_CONF': CONTAINERS_CONF,
        }

    def name(self, suffix):
        return '%s%d-%s' % (NAME_PREFIX, self.pid, suffix)

    # -- set-up ------------------------------------------------------------

    def prepare(self):
        print('# Environment of every command below, run from %s:' % REPO)
        print(display_env(self.run_dir, '\n', 'export '))
        remove_stale_runs(self.shell)
        os.makedirs(self.run_dir)
        self.tmp_dir = tempfile.mkdtemp(prefix='lowmem-bench-')
        for image in (IMAGE_PYTHON, IMAGE_SYSTEMD):
            if self.shell.run(['podman', 'image', 'exists', image], check=False).rc != 0:
                raise BenchError('%s is missing: run `make bench` (it builds the test images), or '
                                 'tests/containers/build-images.sh debian12:python debian12:systemd' % image)
        self.build_ssh_image()
        # The collection under test: the last commit (what the results name), or the work tree
        # with --worktree (uncommitted changes too, others' included).
        self.commit = self.shell.run(['git', 'rev-parse', '--short', 'HEAD']).out.strip()
        if self.args.worktree:
            self.commit += ' + uncommitted changes'
            self.shell.run(['tests/tools/build-collection-copy.sh', self.collection])
        else:
            os.makedirs(self.collection)
            self.shell.run(['sh', '-c', 'git archive "$1" | tar -x -C "$0"', self.collection, self.commit])
        if not os.path.isdir(PODMAN_COLLECTION):
            raise BenchError('%s is missing: run `make molecule-venv`' % PODMAN_COLLECTION)
        os.makedirs(os.path.join(self.collections, 'ansible_collections', 'containers'))
        self.shell.run(['cp', '-a', PODMAN_COLLECTION,
                        os.path.join(self.collections, 'ansible_collections', 'containers', 'podman')])
        self.write(os.path.join(self.run_dir, 'podman-count'),
                   '#!/bin/sh\nprintf "CALL %%s\\n" "$*" >> "$LOWMEM_BENCH_CALLS"\nexec %s "$@"\n'
                   % shlex.quote(shutil.which('podman')), mode=0o755)

    def build_ssh_image(self):
        base_id = self.shell.run(['podman', 'image', 'inspect', '--format', '{{.Id}}', IMAGE_SYSTEMD]).out.strip()
        with open(os.path.join(IMAGE_SSH_DIR, 'Containerfile'), 'rb') as recipe:
            wanted = hashlib.sha256(recipe.read() + base_id.encode()).hexdigest()[:16]
        label = 'lowmem-hardening.bench-recipe'
        found = self.shell.run(['podman', 'image', 'inspect', '--format', '{{ index .Labels "%s" }}' % label,
                                IMAGE_SSH], check=False)
        if found.rc == 0 and found.out.strip() == wanted:
            return
        old = self.shell.run(['podman', 'image', 'inspect', '--format', '{{.Id}}', IMAGE_SSH], check=False)
        self.shell.run(['podman', 'build', '--pull=never', '--quiet', '--label', '%s=%s' % (label, wanted),
                        '--build-arg', 'BASE=' + IMAGE_SYSTEMD, '--tag', IMAGE_SSH, IMAGE_SSH_DIR])
        if old.rc == 0:
            self.shell.run(['podman', 'rmi', old.out.strip()], check=False)

    def disk(self, name):
        """A directory on a file system that can hold swap (ext4), for one container."""
        if self.disk_root is None:
            root = os.path.join(self.run_dir, 'disk')
            os.makedirs(root)
            fstype = self.shell.run(['findmnt', '--noheadings', '--output', 'FSTYPE', '--target', root]).out.strip()
            if fstype != 'ext4' or self.args.loop:
                # A loop-mounted ext4 image: room for the 4 GiB swap file and the fleet's small ones.
                image = os.path.join(self.run_dir, 'disk.img')
                self.shell.run(['truncate', '--size', '8G', image])
                self.shell.run(['mkfs.ext4', '-q', '-F', image])
                self.shell.run(['mount', '-o', 'loop', image, root])
                self.loop_mount = root
            self.disk_root = root
        path = os.path.join(self.disk_root, name)
        os.makedirs(path)
        return path

    @staticmethod
    def swap_paths(name, disk):
        """(host path, path in the container) of container `name`'s swap file on its disk.

        /proc/swaps is kernel-wide and shows the path as the container that swapped on saw it: a
        name of its own keeps one container's swap file from passing for another's (mkswap refuses
        a path listed there) and lets cleanup find it.
        """
        return os.path.join(disk, name + '.swap'), '/mnt/disk/%s.swap' % name

    @staticmethod
    def write(path, text, mode=0o644, show=True):
        with open(path, 'w') as out:
            out.write(text)
        os.chmod(path, mode)
        if show:
            print('# wrote %s:\n%s' % (path, '\n'.join('#   ' + line for line in text.splitlines())))
        return path

    # -- containers ----------------------------------------------------------

    def start(self, name, image, boot, disk=None, swap=False, ssh_keys=None):
        """Start a container with the fake lowmemorykiller sysfs, as molecule/resources/create.yml does.

        boot: systemd (PID 1 mounts the fake sysfs), cron (the fake sysfs, then cron; no systemd),
        sshd (the fake sysfs, cron, then sshd; no systemd) or fakesysfs (the fake sysfs server is the
        main process).
        swap: may swapon (seccomp unconfined) and write /proc/sys (unmasked), not --privileged:
        no host devices, and without systemd nothing applies sysctl.d files to the host at boot.
        ssh_keys: publish sshd on a random port of 127.0.0.1 and authorise this public key file.
        """
        argv = ['podman', 'run', '--detach', '--name', name, '--hostname', name,
                '--label', '%s=%d' % (RUN_LABEL, self.pid),
                '--tmpfs', '/sys/module:rw,mode=0755,notmpcopyup', '--device', '/dev/fuse', '--cap-add', 'SYS_ADMIN',
                '--volume', '%s:/opt/lowmem-hardening/tests:ro' % os.path.join(REPO, 'tests')]
        if disk:
            argv += ['--volume', '%s:/mnt/disk' % disk]
        if swap:
            argv += ['--security-opt', 'seccomp=unconfined', '--security-opt', 'unmask=/proc/sys']
        if ssh_keys:
            argv += ['--publish', '127.0.0.1::22', '--volume', '%s:/root/.ssh/authorized_keys:ro' % ssh_keys]
        else:
            argv += ['--network', 'none']
        if boot == 'systemd':
            argv += ['--systemd=always', image]
        elif boot == 'cron':
            argv += ['--init', '--tmpfs', '/run:rw,mode=0755', image, '/opt/lowmem-hardening/tests/containers/boot-cron.sh']
        elif boot == 'sshd':
            argv += ['--init', '--tmpfs', '/run:rw,mode=0755', image, '/bin/sh', '-c', SSHD_BOOT, LMK_MOUNT]
        else:
            argv += ['--init', image, '/usr/bin/python3', '/opt/lowmem-hardening/tests/fakesysfs/fakesysfs.py', LMK_MOUNT]
        self.containers.append(name)
        self.shell.run(argv)

    def wait_booted(self, names, systemd):
        for name in names:
            if systemd:
                # Until PID 1 has its bus up, systemctl cannot even ask: try again for up to a minute.
                for _attempt in range(120):
                    state = self.shell.run(['podman', 'exec', name, 'systemctl', 'is-system-running', '--wait'],
                                           check=False).out.strip()
                    if state:
                        break
                    time.sleep(0.5)
                if state not in ('running', 'degraded'):
                    raise BenchError('%s did not boot: systemctl is-system-running says %r' % (name, state))
            self.shell.run(['podman', 'exec', name, 'sh', '-c',
                            'for try in $(seq 100); do mountpoint -q "$0" && exit 0; sleep 0.1; done; exit 1',
                            LMK_MOUNT])

    def remove_containers(self, names):
        for name in names:
            self.shell.run(['podman', 'rm', '--force', '--time', '1', name], check=False)
            if name in self.containers:
                self.containers.remove(name)

    # -- ansible -------------------------------------------------------------

    def inventory(self, filename, groups, common):
        """A YAML (JSON) inventory: groups {group: {host: vars}}, common vars for all."""
        data = {'all': {'vars': common, 'children': dict(
            (group, {'hosts': hosts}) for group, hosts in groups.items())}}
        return self.write(os.path.join(self.run_dir, filename), json.dumps(data, indent=2, sort_keys=True) + '\n')

    def playbook(self, argv, timed=False):
        """Run ansible-playbook; return (seconds, [per task result dicts])."""
        timing = os.path.join(self.run_dir, 'timing.jsonl')
        if os.path.exists(timing):
            os.unlink(timing)
        outcome = self.shell.run(['ansible-playbook'] + argv, extra_env={'LOWMEM_BENCH_TIMING': timing}, timed=timed)
        results = []
        if os.path.exists(timing):
            with open(timing) as lines:
                results = [json.loads(line) for line in lines]
        failed = [r for r in results if r['status'] in ('failed', 'unreachable')]
        if failed:
            raise BenchError('ansible-playbook %s: failed tasks %s' % (' '.join(argv), failed))
        return outcome.seconds, results

    def adhoc(self, argv, timed=False):
        outcome = self.shell.run(['ansible'] + argv, timed=timed)
        return outcome

    def count_calls(self, argv, playbook):
        """Podman invocations (round trips to a container) and module runs of one untimed run."""
        calls = os.path.join(self.run_dir, 'calls.log')
        if os.path.exists(calls):
            os.unlink(calls)
        extra = ['-e', 'ansible_podman_executable=%s' % os.path.join(self.run_dir, 'podman-count')]
        tool = 'ansible-playbook' if playbook else 'ansible'
        self.shell.run([tool] + argv + extra, extra_env={'LOWMEM_BENCH_CALLS': calls})
        with open(calls) as log:
            entries = [line for line in log if line.startswith('CALL ')]
        # The exec that runs python on the module (the chmod before it names the file too).
        runs = re.compile(r'python[\d.]*\s+\S*AnsiballZ_\w+\.py')
        return dict(podman_calls=len(entries), module_runs=sum(1 for line in entries if runs.search(line)))

    # -- cleanup -------------------------------------------------------------

    def swapoff_all(self):
        """Swap is kernel-wide: swap off every file this run activated, by its host path."""
        for path in self.swapfiles:
            if os.path.exists(path) and is_active_swap(path):
                self.shell.run(['swapoff', path], check=False)

    def cleanup(self):
        print('# cleaning up', flush=True)
        if self.tmp_dir:
            close_ssh_masters(self.shell, os.path.join(self.tmp_dir, 'cp'))
        self.swapoff_all()
        self.remove_containers(list(self.containers))
        if self.loop_mount:
            self.shell.run(['umount', self.loop_mount], check=False)
        for path in (self.run_dir, self.tmp_dir):
            if path and os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)


def is_active_swap(host_path):
    """Whether the file at host_path is active swap. /proc/swaps shows the path as the container
    saw it, so compare the device and inode of the file instead, through swapon's own check."""
    st = os.stat(host_path)
    with open('/proc/swaps') as swaps:
        names = [line.split()[0] for line in swaps.read().splitlines()[1:] if line.strip()]
    # A name under a container's mount is not a host path: match those by basename and size.
    for name in names:
        try:
            other = os.stat(name)
        except OSError:
            if os.path.basename(name) == os.path.basename(host_path):
                return True
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            return True
    return False


def close_ssh_masters(shell, control_dir):
    if not os.path.isdir(control_dir):
        return
    for name in sorted(os.listdir(control_dir)):
        shell.run(['ssh', '-o', 'ControlPath=%s' % os.path.join(control_dir, name), '-O', 'exit', 'bench'],
                  check=False)


def remove_stale_runs(shell):
    """Remove what an earlier run that was killed left behind (its process is gone)."""
    listed = shell.run(['podman', 'ps', '--all', '--filter', 'label=' + RUN_LABEL,
                        '--format', '{{.Names}} {{ index .Labels "%s" }}' % RUN_LABEL]).out.split('\n')
    stale_pids = set()
    for line in listed:
        fields = line.split()
        if len(fields) == 2 and fields[0].startswith(NAME_PREFIX) and fields[1].isdigit():
            if not pid_is_bench(int(fields[1])):
                stale_pids.add(int(fields[1]))
    if os.path.isdir(BUILD):
        for entry in os.listdir(BUILD):
            match = re.match(r'run-(\d+)$', entry)
            if match and not pid_is_bench(int(match.group(1))):
                stale_pids.add(int(match.group(1)))
    for pid in sorted(stale_pids):
        run_dir = os.path.join(BUILD, 'run-%d' % pid)
        disk = os.path.join(run_dir, 'disk')
        if os.path.isdir(disk):
            for root, _dirs, files in os.walk(disk):
                for name in files:
                    path = os.path.join(root, name)
                    if name.endswith('.swap') and is_active_swap(path):
                        shell.run(['swapoff', path], check=False)
        for line in listed:
            fields = line.split()
            if len(fields) == 2 and fields[1] == str(pid) and fields[0].startswith(NAME_PREFIX):
                shell.run(['podman', 'rm', '--force', '--time', '1', fields[0]], check=False)
        if os.path.ismount(disk):
            shell.run(['umount', disk], check=False)
        shutil.rmtree(run_dir, ignore_errors=True)


def display_env(run_dir, separator, prefix=''):
    """The environment bench.py adds, as shell lines (PATH keeps the caller's after the venv)."""
    env = Bench.base_env(run_dir)
    env['PATH'] = VENV_BIN + ':"$PATH"'
    return separator.join('%s%s=%s' % (prefix, key, value if key == 'PATH' else shlex.quote(value))
                          for key, value in sorted(env.items()))


def pid_is_bench(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as cmdline:
            return b'bench.py' in cmdline.read()
    except (IOError, OSError):
        return False


# Main process of a fleet host: no systemd, because each systemd container takes 5 inotify
# instances and the host's fs.inotify.max_user_instances (128 by default) is shared with every
# other container here: at about 25 of them systemd no longer boots, ours or anyone's.
SSHD_BOOT = ('/usr/bin/python3 /opt/lowmem-hardening/tests/fakesysfs/fakesysfs.py "$0" & '
             'cron && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e')
PODMAN_HOST = {'ansible_connection': 'containers.podman.podman'}
# As molecule/resources/inventory/group_vars/all.yml: minbase images have su, not sudo.
PODMAN_BECOME = {'ansible_become_method': 'ansible.builtin.su'}


# ---------------------------------------------------------------------------
# 1. Module round trip when nothing needs changing

def measure_round_trip(bench):
    sizes = bench.sizes
    name = bench.name('m1')
    bench.start(name, IMAGE_SYSTEMD, 'systemd')
    bench.wait_booted([name], systemd=True)
    inventory = bench.inventory('m1.yml', {'bench': {name: {}}}, PODMAN_HOST)
    lmk = ['-m', 'lowmem.hardening.lowmemorykiller', '-a', 'state=disabled']
    ping = ['-m', 'ansible.builtin.ping']
    # Put everything in place once: what follows changes nothing.
    bench.adhoc([name, '-i', inventory] + lmk)

    def adhoc(module_args):
        def once():
            outcome = bench.adhoc([name, '-i', inventory] + module_args, timed=True)
            if ' | SUCCESS ' not in outcome.out:
                raise BenchError('expected SUCCESS without change, got: %s' % outcome.out.strip()[:300])
            return outcome.seconds
        return once
    ad_hoc = interleave(sizes['runs'], [('lowmemorykiller', adhoc(lmk)), ('ping', adhoc(ping))])

    # The same calls inside one playbook: the round trip without ansible's start-up, alternating.
    tasks = [dict(name='warm-up ping', **{'ansible.builtin.ping': {}}),
             dict(name='warm-up lowmemorykiller', **{'lowmem.hardening.lowmemorykiller': {'state': 'disabled'}})]
    for index in range(sizes['per_call']):
        pair = [dict(name='ping %d' % (index + 1), **{'ansible.builtin.ping': {}}),
                dict(name='lowmemorykiller %d' % (index + 1),
                     **{'lowmem.hardening.lowmemorykiller': {'state': 'disabled'}})]
        tasks += pair if index % 2 else list(reversed(pair))
    play = [dict(name='Module round trips, alternating', hosts='all', gather_facts=False, tasks=tasks)]
    playbook = bench.write(os.path.join(bench.run_dir, 'm1-per-call.yml'), json.dumps(play, indent=2) + '\n')
    _seconds, results = bench.playbook(['-i', inventory, playbook], timed=True)
    per_call = {'lowmemorykiller': [], 'ping': []}
    for result in results:
        if result['task'].startswith('warm-up'):
            continue
        key = 'ping' if result['action'].endswith('ping') else 'lowmemorykiller'
        if key == 'lowmemorykiller' and result['changed']:
            raise BenchError('lowmemorykiller reported a change on a host already in place')
        per_call[key].append(result['seconds'])

    calls_lmk = bench.count_calls([name, '-i', inventory] + lmk, playbook=False)
    calls_ping = bench.count_calls([name, '-i', inventory] + ping, playbook=False)
    on_host = module_run_on_host(bench, name, [['ansible', name, '-i', inventory] + lmk,
                                               ['ansible', name, '-i', inventory] + ping], sizes['per_call'])
    bench.remove_containers([name])

    rows = []
    for label, samples in (('per call inside one playbook', per_call), ('ad hoc `ansible` end to end', ad_hoc)):
        ours, theirs = summary(samples['lowmemorykiller']), summary(samples['ping'])
        rows.append(dict(what='module round trip, %s (s)' % label, ours_label='lowmemorykiller', ours=ours,
                         baseline_label='ansible.builtin.ping', baseline=theirs, ratio=ratio(ours, theirs)))
    ours, theirs = summary(on_host['lowmemorykiller']), summary(on_host['ping'])
    rows.append(dict(what='of which: the module\'s own run in the container, python AnsiballZ_*.py (s)',
                     ours_label='lowmemorykiller', ours=ours, baseline_label='ansible.builtin.ping', baseline=theirs,
                     ratio=ratio(ours, theirs)))
    rows.append(dict(what='podman calls per module call', ours_label='lowmemorykiller', ours_value=calls_lmk['podman_calls'],
                     baseline_label='ansible.builtin.ping', baseline_value=calls_ping['podman_calls']))
    judged = rows[0]['ratio']
    own = rows[2]['ours']['median'] - rows[2]['baseline']['median']
    notes = ['Both calls reach the container the same way (%d podman invocations: mount, then 5 execs: home, '
             'temp dir, chmod, python, rm); what differs is the module\'s own run: %+.0f ms, %.1f%% of ping\'s '
             'round trip.' % (calls_ping['podman_calls'], own * 1000, 100.0 * own / rows[0]['baseline']['median'])]
    if judged > 1.1:
        apart = (rows[0]['ours']['median'] - rows[0]['baseline']['median']) * 1000
        notes.append('Missed: the round trip differs by %+.0f ms while the module\'s own run differs by %+.0f ms; the '
                     'rest is the load of the machine (see min-max), not the module: rerun when it is quieter.'
                     % (apart, own * 1000))
    return dict(
        id='1', title='Module round trip when nothing needs changing (podman connection, one container)',
        target='lowmemorykiller <= 1.1x ping (per call inside one playbook)',
        met=judged <= 1.1, rows=rows, notes=notes,
    )


# Runs inside the container: each kept AnsiballZ file once untimed (its first run compiles the
# modules it unpacks), then in turn, alternating, timed there.
ON_HOST_LOOP = '''
import json, subprocess, sys, time
files = json.loads(sys.argv[1])
keys = sorted(files)
samples = dict((key, []) for key in keys)
for key in keys:
    subprocess.run([sys.executable, files[key]], stdout=subprocess.DEVNULL, check=True)
for index in range(int(sys.argv[2])):
    for key in (keys if index % 2 else keys[::-1]):
        started = time.perf_counter()
        subprocess.run([sys.executable, files[key]], stdout=subprocess.DEVNULL, check=True)
        samples[key].append(time.perf_counter() - started)
print(json.dumps(samples))
'''


def module_run_on_host(bench, name, commands, rounds):
    """Each module's run on the host alone (no transport): keep the AnsiballZ files of one run of
    each command (ANSIBLE_KEEP_REMOTE_FILES), then time them inside the container, alternating.

    commands: [ansible or ansible-playbook argv]. Returns {module name: [seconds...]}.
    """
    listing = ['podman', 'exec', name, 'sh', '-c', 'ls /root/.ansible/tmp/*/AnsiballZ_*.py 2>/dev/null || true']
    bench.shell.run(['podman', 'exec', name, 'sh', '-c', 'rm -rf /root/.ansible/tmp/ansible-tmp-*'])
    for argv in commands:
        bench.shell.run(argv, extra_env={'ANSIBLE_KEEP_REMOTE_FILES': '1'})
    files = dict((re.search(r'AnsiballZ_(\w+)\.py$', path).group(1), path)
                 for path in bench.shell.run(listing).out.split())
    samples = json.loads(bench.shell.run(['podman', 'exec', name, '/usr/bin/python3', '-c', ON_HOST_LOOP,
                                          json.dumps(files), str(rounds)], timed=True).out)
    bench.shell.run(['podman', 'exec', name, 'sh', '-c', 'rm -rf /root/.ansible/tmp/ansible-tmp-*'])
    return samples


# ---------------------------------------------------------------------------
# 2. The role's idempotent re-run vs the naive baseline

def host_sysctl(name):
    with open('/proc/sys/' + name.replace('.', '/')) as value:
        return int(value.read().split()[0])


def measure_idempotent(bench):
    sizes = bench.sizes
    role, naive = bench.name('m2-role'), bench.name('m2-naive')
    swaps = {}
    for name in (role, naive):
        disk = bench.disk(name)
        swaps[name] = bench.swap_paths(name, disk)
        bench.swapfiles.append(swaps[name][0])
        bench.start(name, IMAGE_SSH, 'cron', disk=disk, swap=True)
    bench.wait_booted([role, naive], systemd=False)
    # vm.* sysctls are not namespaced: the containers write what the host already has, so the
    # host is never changed, and both sides still read, compare and write /proc/sys for real.
    sysctls = dict((name, host_sysctl(name)) for name in ('vm.swappiness', 'vm.vfs_cache_pressure'))
    mib = parse_mib(sizes['role_swap_size'])
    inventory = bench.inventory('m2.yml', {
        'role': {role: {'lowmem_swapfile_path': swaps[role][1], 'lowmem_swapfile_size': sizes['role_swap_size'],
                        'lowmem_swapfile_active': True, 'lowmem_sysctl': sysctls}},
        'naive': {naive: {}},
    }, dict(PODMAN_HOST, **PODMAN_BECOME))
    # Extra vars: the baseline's play vars outrank inventory.
    naive_vars = bench.write(os.path.join(bench.run_dir, 'm2-naive-vars.json'), json.dumps(
        {'naive_swapfile': swaps[naive][1], 'naive_swapfile_mb': mib, 'naive_sysctl': sysctls}) + '\n')
    role_argv = ['-i', inventory, bench.harden, '--limit', 'role']
    naive_argv = ['-i', inventory, NAIVE_PLAYBOOK, '--limit', 'naive', '-e', '@' + naive_vars]
    # First runs put everything in place (swap files created and swapped on); not measured.
    bench.playbook(role_argv)
    bench.playbook(naive_argv)
    changed = {'role': [], 'naive': []}

    def run(key, argv):
        def once():
            seconds, results = bench.playbook(argv, timed=True)
            changed[key].append(sum(1 for result in results if result['changed']))
            return seconds
        return once
    samples = interleave(sizes['runs'], [('role', run('role', role_argv)), ('naive', run('naive', naive_argv))])
    calls = dict(role=bench.count_calls(role_argv, playbook=True), naive=bench.count_calls(naive_argv, playbook=True))
    active = dict((name, is_active_swap(swaps[name][0])) for name in (role, naive))
    bench.swapoff_all()
    bench.remove_containers([role, naive])
    if not all(active.values()):
        raise BenchError('a swap file was not active after the runs: %s' % active)

    ours, theirs = summary(samples['role']), summary(samples['naive'])
    rows = [
        dict(what='idempotent re-run, wall (s)', ours_label='role lowmem (playbooks/harden-lowmem.yml)', ours=ours,
             baseline_label='naive (bench/baselines/naive-lowmem.yml)', baseline=theirs, ratio=ratio(ours, theirs)),
        dict(what='podman calls per run', ours_label='role', ours_value=calls['role']['podman_calls'],
             baseline_label='naive', baseline_value=calls['naive']['podman_calls']),
        dict(what='module runs per run', ours_label='role', ours_value=calls['role']['module_runs'],
             baseline_label='naive', baseline_value=calls['naive']['module_runs']),
        dict(what='changed tasks per run', ours_label='role', ours_value=every_run(changed['role']),
             baseline_label='naive', baseline_value=every_run(changed['naive'])),
    ]
    return dict(
        id='2', title='The role\'s idempotent re-run (everything in place) vs a naive task-per-step baseline',
        target='role <= 0.6x naive, 0 changed tasks',
        met=rows[0]['ratio'] <= 0.6 and not any(changed['role']), rows=rows,
        notes=['Both in containers allowed to swap on and write /proc/sys (CAP_SYS_ADMIN, seccomp unconfined, '
               '/proc/sys unmasked; booted without systemd, cron as the boot-time mechanism), each with a %s swap '
               'file on a bind-mounted ext4 directory, swapped on for real and off again at the end.'
               % sizes['role_swap_size'],
               'sysctl values are the host\'s own (%s), because vm.* is kernel-wide: nothing on the host changes.'
               % ', '.join('%s=%s' % item for item in sorted(sysctls.items()))],
    )


def every_run(values):
    return '%d in every run' % values[0] if len(set(values)) == 1 else ', '.join(str(value) for value in values)


def parse_mib(size):
    units = {'M': 1, 'G': 1024}
    return int(float(size[:-1]) * units[size[-1]])


# ---------------------------------------------------------------------------
# 3. Creating a big swap file through one Ansible call

def measure_swapfile(bench):
    sizes = bench.sizes
    size = sizes['swap_size']
    name = bench.name('m3')
    disk = bench.disk(name)
    host_path, path = bench.swap_paths(name, disk)
    bench.swapfiles.append(host_path)
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
    samples = interleave(sizes['runs'], [(key, once(key)) for key in ('module', 'fallocate', 'dd')])
    bench.remove_containers([name])
    module, floor, slow = summary(samples['module']), summary(samples['fallocate']), summary(samples['dd'])
    rows = [
        dict(what='%s swap file, one Ansible call (s)' % size, ours_label='lowmem.hardening.swapfile', ours=module,
             baseline_label='fallocate + mkswap (ansible.builtin.command)', baseline=floor, ratio=ratio(module, floor)),
        dict(what='%s swap file, one Ansible call (s)' % size, ours_label='lowmem.hardening.swapfile', ours=module,
             baseline_label='dd + mkswap (ansible.builtin.command)', baseline=slow, ratio=ratio(module, slow)),
    ]
    return dict(
        id='3', title='Creating a %s swap file on ext4, each through one Ansible call' % size,
        target='module <= 1.2x fallocate + mkswap', met=rows[0]['ratio'] <= 1.2, rows=rows,
        notes=['The file is on a bind-mounted directory on ext4 (loop-mounted image when the checkout is not on '
               'ext4), checked (size, SWAPSPACE2 signature) and deleted after every run.'],
    )


# ---------------------------------------------------------------------------
# 4. Kill-log scan

def measure_killlog(bench):
    sizes = bench.sizes
    python = sys.executable
    logs = {}
    for megabytes in sizes['log_mb']:
        path = os.path.join(bench.run_dir, 'kern-%gMB.log' % megabytes)
        written = bench.shell.run([python, KILLLOG_SCAN, 'generate', path, '--mb', str(megabytes)]).out
        logs[megabytes] = (path, int(re.search(r'(\d+) kill records written', written).group(1)))
    small, big = sizes['log_mb']
    path, expected = logs[big]
    found = []

    def scan(log_path):
        def run():
            outcome = bench.shell.run([python, KILLLOG_SCAN, 'scan', log_path], timed=True)
            match = re.search(r': (\d+) kills in [\d.]+ s \((.*)\)', outcome.out)
            found.append((log_path, int(match.group(1)), match.group(2), outcome.maxrss_kb))
            return outcome.seconds
        return run

    def grep():
        return bench.shell.run(['grep', '-cE', GREP_PATTERN, path], timed=True).seconds
    # Untimed: writes the parser's cached bytecode, as any first run on a host does.
    bench.shell.run([python, KILLLOG_SCAN, 'scan', os.devnull])
    samples = interleave(sizes['runs'], [('parser', scan(path)), ('grep', grep)])
    # Memory: the same scan over a log ten times smaller.
    interleave(sizes['runs'], [('small', scan(logs[small][0]))])
    # Where the parser's time goes: start-up and import alone, and the keyword passes alone.
    startup = [bench.shell.run([python, KILLLOG_SCAN, 'scan', os.devnull], timed=True).seconds
               for _round in range(sizes['runs'])]
    keywords = [bench.shell.run([python, KILLLOG_SCAN, 'keywords', path], timed=True).seconds
                for _round in range(sizes['runs'])]
    big_scans = [entry for entry in found if entry[0] == path]
    small_scans = [entry for entry in found if entry[0] == logs[small][0]]
    counts = sorted(set(entry[1] for entry in big_scans))
    killers = big_scans[0][2]
    rss_big = max(entry[3] for entry in big_scans)
    rss_small = max(entry[3] for entry in small_scans)
    ours, theirs = summary(samples['parser']), summary(samples['grep'])
    all_found = counts == [expected]
    flat = rss_big <= rss_small * 1.1
    rows = [
        dict(what='scan %g MB kernel log, plain processes (s)' % big, ours_label='killlog parser (bench/killlog_scan.py scan)',
             ours=ours, baseline_label="grep -cE '%s'" % GREP_PATTERN, baseline=theirs, ratio=ratio(ours, theirs)),
        dict(what='of which: python start-up and parser import (s)', ours_label='scan of an empty file',
             ours=summary(startup)),
        dict(what='of which: start-up and the keyword search alone, no parsing (s)',
             ours_label='bench/killlog_scan.py keywords', ours=summary(keywords)),
        dict(what='kills found / written', ours_label='parser', ours_value='%s of %d (%s)' % (
            '/'.join(str(count) for count in counts), expected, killers)),
        dict(what='max RSS, %g MB vs %g MB log (MiB)' % (small, big), ours_label='parser',
             ours_value='%.1f vs %.1f' % (rss_small / 1024.0, rss_big / 1024.0)),
    ]
    notes = ['The log: ordinary kernel lines with 0.1% kill records of every format (bench/killlog_scan.py '
             'generate, seed 1), read from the page cache by both. Max RSS from wait4(2).']
    if rows[0]['ratio'] > 2:
        start, search, grep_median = rows[1]['ours']['median'], rows[2]['ours']['median'], theirs['median']
        notes.append(
            'Missed on speed: of the parser\'s %.2f s, start-up and import take %.2f s and the keyword search '
            '%.2f s: together %.1fx grep before a single line is parsed; parsing the candidate lines takes the '
            'remaining %.2f s. The search is one CPython pass per keyword (ill, SIG), each about as fast as grep\'s '
            'single pass over all of its patterns; see bench/README.md (Findings) for what was tried.'
            % (ours['median'], start, search - start, search / grep_median, ours['median'] - search))
    return dict(
        id='4', title='Kill-log scan: the parser vs grep over a generated %g MB kernel log' % big,
        target='parser <= 2x grep, every kill found, memory flat',
        met=rows[0]['ratio'] <= 2 and all_found and flat, rows=rows,
        met_parts=dict(speed=rows[0]['ratio'] <= 2, every_kill=all_found, memory_flat=flat),
        notes=notes,
    )


# ---------------------------------------------------------------------------
# 5. Fleet

def measure_fleet(bench):
    sizes = bench.sizes
    count = max(sizes['fleet_sizes'])
    names = [bench.name('f%02d' % (index + 1)) for index in range(count)]
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
    role_vars = {'lowmem_swapfile_size': sizes['role_swap_size'], 'lowmem_swapfile_active': False}
    groups = dict(('h%d' % size, None) for size in sizes['fleet_sizes'])
    swap = dict((name, {'lowmem_swapfile_path': '/mnt/disk/%s.swap' % name}) for name in names)
    podman_groups = dict((group, dict((name, swap[name]) for name in names[:int(group[1:])])) for group in groups)
    ssh_groups = dict((group, dict((name, dict(swap[name], ansible_port=ports[name])) for name in names[:int(group[1:])]))
                      for group in groups)
    inventories = {
        'podman': bench.inventory('fleet-podman.yml', podman_groups, dict(role_vars, **dict(PODMAN_HOST, **PODMAN_BECOME))),
        # Real fleets: ssh with pipelining and ControlPersist (bench/ansible.cfg), become by sudo.
        'ssh': bench.inventory('fleet-ssh.yml', ssh_groups, dict(
            role_vars, ansible_host='127.0.0.1', ansible_user='root', ansible_ssh_private_key_file=key,
            ansible_become_method='ansible.builtin.sudo',
            ansible_control_path_dir=os.path.join(bench.tmp_dir, 'cp'))),
    }
    forks = str(bench.args.forks)
    # First run over every host puts everything in place; not measured.
    _seconds, converged = bench.playbook(['-i', inventories['podman'], bench.harden, '--forks', forks])
    # The transport floor of the role: as many pings, with become, as the role makes module calls.
    calls = sorted(set(r['task'] for r in converged if r['action'].startswith('lowmem.hardening.')))
    floor = bench.write(os.path.join(bench.run_dir, 'fleet-floor.yml'), json.dumps([dict(
        name='Transport floor: one ping per module call of the role', hosts='{{ lowmem_hosts }}', become=True,
        gather_facts=False, tasks=[{'name': 'ping %d' % (index + 1), 'ansible.builtin.ping': {}}
                                   for index in range(len(calls))])], indent=2) + '\n')
    # Each module's own run on one host: in a real fleet each host pays it on its own CPU; here all the
    # containers share the controller's 2 cores, so at 30 hosts it adds up.
    on_host = module_run_on_host(bench, names[0], [
        ['ansible-playbook', '-i', inventories['podman'], bench.harden, '-e', 'lowmem_hosts=' + names[0]],
        ['ansible', names[0], '-i', inventories['podman'], '-m', 'ansible.builtin.ping']], sizes['fleet_runs'])
    on_host_ping = on_host.pop('ping')
    own_runs = ', '.join('%s %.3f' % (module, statistics.median(times)) for module, times in sorted(on_host.items()))
    rows = [dict(what='one host: each module\'s own run in the container, python AnsiballZ_*.py, median (s)',
                 ours_label='role', ours_value=own_runs,
                 baseline_label='ping', baseline_value='%.3f' % statistics.median(on_host_ping))]
    ratios = {}
    for transport in ('podman', 'ssh'):
        medians = {}
        task_times = {}
        for size in sizes['fleet_sizes']:
            group = 'h%d' % size
            role_argv = ['-i', inventories[transport], bench.harden, '-e', 'lowmem_hosts=' + group, '--forks', forks]
            floor_argv = ['-i', inventories[transport], floor, '-e', 'lowmem_hosts=' + group, '--forks', forks]
            ping_argv = [group, '-i', inventories[transport], '-m', 'ansible.builtin.ping', '--forks', forks]
            bench.adhoc(ping_argv)  # warm-up: ssh control masters up, caches warm

            def playbook(argv, name, size=size):
                def run():
                    seconds, results = bench.playbook(argv, timed=True)
                    changed = [r for r in results if r['changed']]
                    if changed:
                        raise BenchError('a re-run changed: %s' % changed)
                    if size == max(sizes['fleet_sizes']):
                        for result in results:
                            if result['action'] != 'ansible.builtin.validate_argument_spec':
                                key = (name, 'ping' if result['action'].endswith('ping') else result['task'])
                                task_times.setdefault(key, []).append(result['seconds'])
                    return seconds
                return run

            def adhoc_ping(argv, size=size):
                def run():
                    outcome = bench.adhoc(argv, timed=True)
                    if outcome.out.count(' | SUCCESS ') != size:
                        raise BenchError('ping did not succeed on all %d hosts' % size)
                    return outcome.seconds
                return run
            variants = [('role', playbook(role_argv, 'role')), ('ping', adhoc_ping(ping_argv))]
            # The floor is a diagnosis of the scaling: at the smallest and largest size only.
            if size in (min(sizes['fleet_sizes']), max(sizes['fleet_sizes'])):
                variants.append(('floor', playbook(floor_argv, 'floor')))
            samples = interleave(sizes['fleet_runs'], variants, limits={'floor': sizes['floor_runs']})
            ours, theirs = summary(samples['role']), summary(samples['ping'])
            medians[size] = [ours['median'], theirs['median']]
            label = '%s, %d host%s (s)' % (transport, size, 's' if size > 1 else '')
            rows.append(dict(what=label, ours_label='playbooks/harden-lowmem.yml', ours=ours,
                             baseline_label='ansible -m ansible.builtin.ping', baseline=theirs,
                             ratio=ratio(ours, theirs)))
            if 'floor' in samples:
                least = summary(samples['floor'])
                medians[size].append(least['median'])
                rows.append(dict(what=label, ours_label='playbooks/harden-lowmem.yml', ours=ours,
                                 baseline_label='transport floor: %d pings with become (playbook)' % len(calls),
                                 baseline=least, ratio=ratio(ours, least)))
        first, last = min(medians), max(medians)
        if first != last:
            scales = [medians[last][index] / medians[first][index] for index in range(3)]
            ratios[transport] = scales
            rows.append(dict(what='%s, %d-host time / 1-host time' % (transport, last),
                             ours_label='role', ours_value='%.2fx' % scales[0],
                             baseline_label='ping', baseline_value='%.2fx (transport floor %.2fx)' % tuple(scales[1:])))
            # Per-host time of each task at the largest size: a bottleneck of ours would show here.
            ours_tasks = ', '.join('%s %.2f' % (task.split('|')[-1].strip(), statistics.median(times))
                                   for (name, task), times in sorted(task_times.items()) if name == 'role')
            floor_pings = task_times.get(('floor', 'ping'), [])
            rows.append(dict(what='%s, %d hosts: per-host time of each task, median (s)' % (transport, last),
                             ours_label='role', ours_value=ours_tasks,
                             baseline_label='transport floor, a ping',
                             baseline_value='%.2f' % statistics.median(floor_pings) if floor_pings else ''))
    close_ssh_masters(bench.shell, os.path.join(bench.tmp_dir, 'cp'))
    bench.remove_containers(names)
    met = all(scales[0] <= scales[1] for scales in ratios.values()) if ratios else None
    notes = []
    for transport, scales in sorted(ratios.items()):
        if scales[0] > scales[1]:
            # Why a role of several calls scales worse than one ad hoc ping, in this run's own figures.
            notes.append('%s: the role scales %.2fx from 1 to %d hosts, ping %.2fx, %d pings with become %.2fx: '
                         'at 1 host ansible\'s start-up is a large part of one ping\'s time and a small part of %d '
                         'calls\' time, while at %d hosts every call costs the same shared 2 cores, so any play of '
                         'more calls than one scales worse than one ping; the role %s the floor of as many pings, which '
                         'lacks its two tasks on the controller (argument spec, summary); the per-host task times above '
                         'show where the time goes.'
                         % (transport, scales[0], max(sizes['fleet_sizes']), scales[1], len(calls), scales[2], len(calls),
                            max(sizes['fleet_sizes']), 'scales no worse than' if scales[0] <= scales[2] else
                            'scales worse than'))
    return dict(
        id='5', title='Fleet: playbooks/harden-lowmem.yml over %s containers, next to ping over the same hosts'
        % ', '.join(str(size) for size in sizes['fleet_sizes']),
        target='role\'s 30-host/1-host ratio no worse than ping\'s', met=met, rows=rows,
        met_parts=dict(('%s_vs_ping' % transport, scales[0] <= scales[1]) for transport, scales in ratios.items()),
        notes=['Idempotent re-runs (everything in place; a change fails the bench), forks %s. The hosts boot '
               'without systemd (fake sysfs, cron, sshd): 30 systemd containers would need 150 of the host\'s 128 '
               'inotify instances (fs.inotify.max_user_instances), shared with everyone\'s containers. podman: the '
               'containers.podman connection, become by su (as in Molecule). ssh: sshd in the same containers on '
               '127.0.0.1, pipelining and ControlPersist on, become by sudo. Each size starts with an untimed ping.'
               % forks] + notes,
    )


# ---------------------------------------------------------------------------
# Report

def machine(commit):
    with open('/proc/meminfo') as meminfo:
        total = int(meminfo.readline().split()[1])
    versions = {}
    for tool, argv in (('ansible-core', [os.path.join(VENV_BIN, 'ansible'), '--version']),
                       ('podman', ['podman', '--version'])):
        try:
            versions[tool] = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False,
                                            universal_newlines=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            versions[tool] = 'unknown'
    return dict(kernel=platform.release(), cpus=os.cpu_count(), mem_gib=round(total / 1048576.0, 1),
                python=platform.python_version(), commit=commit, **versions)


def fmt(stats):
    return '%.3g (%.3g–%.3g)' % (stats['median'], stats['min'], stats['max'])


def markdown(report):
    quick = 'Quick run: sizes tiny, 1 run, 1 host; no target is judged.' if report['quick'] else ''
    lines = ['# Benchmark results', '',
             'Generated by `%s` on %s. %s' % (report['command'], report['finished'], quick),
             '',
             'Machine: %(cpus)s CPUs, %(mem_gib)s GiB, kernel %(kernel)s, Python %(python)s, %(ansible-core)s, '
             '%(podman)s, commit %(commit)s.' % report['machine'],
             'Load average (1, 5, 15 min): %s at the start, %s at the end; other engineers\' containers and '
             'tests ran on this machine at the same time.'
             % (report['load_start'], report['load_end']),
             '', 'Figures: median (min–max) of the runs; ratio = median / baseline median.', '',
             '| # | measurement | ours | baseline | ratio | target | result |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for result in report['measurements']:
        for index, row in enumerate(result['rows']):
            ours = fmt(row['ours']) if 'ours' in row else str(row.get('ours_value', ''))
            theirs = (fmt(row['baseline']) if 'baseline' in row else str(row.get('baseline_value', '')))
            if row.get('ours_label'):
                ours = '%s: %s' % (row['ours_label'], ours)
            if row.get('baseline_label') and theirs:
                theirs = '%s: %s' % (row['baseline_label'], theirs)
            verdict = ''
            if index == 0:
                verdict = ('not judged (quick)' if report['quick'] else
                           {True: '**met**', False: '**missed**', None: 'n/a'}[result['met']])
                missed_parts = [part.replace('_', ' ') for part, met in sorted(result.get('met_parts', {}).items())
                                if not met]
                if missed_parts and not report['quick']:
                    verdict += ' (%s)' % ', '.join(missed_parts)
            lines.append('| %s | %s | %s | %s | %s | %s | %s |' % (
                result['id'] if index == 0 else '', row['what'], ours.replace('|', '\\|'), theirs.replace('|', '\\|'),
                '%.2fx' % row['ratio'] if row.get('ratio') is not None else '',
                result['target'] if index == 0 else '', verdict))
    lines += ['', '## Notes', '']
    for result in report['measurements']:
        load = result['load']
        lines.append('%s. %s. Load average %s before, %s after. %s' % (
            result['id'], result['title'], load['before'], load['after'], ' '.join(result['notes'])))
        lines.append('')
    lines += ['## Commands', '',
              'Run from the repository root with this environment; the timed commands of each measurement follow '
              '(set-up commands, inventories and playbooks are printed by the run itself; latest.json has them all).',
              '', '    ' + display_env(report['run_dir'], '\n    ', 'export '), '']
    for result in report['measurements']:
        lines.append('%s.' % result['id'])
        lines.append('')
        for entry in result['commands']:
            if entry['timed']:
                lines.append('    ' + entry['command'])
        lines.append('')
    return '\n'.join(lines).rstrip('\n') + '\n'


MEASURE = {'1': measure_round_trip, '2': measure_idempotent, '3': measure_swapfile, '4': measure_killlog,
           '5': measure_fleet}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='tiny sizes, 1 run, 1 host: only show that it works')
    parser.add_argument('--runs', type=int, help='repetitions of each measurement (default 7; fleet 5)')
    parser.add_argument('--only', default=','.join(MEASUREMENTS), help='measurements to run, e.g. 1,4')
    parser.add_argument('--forks', type=int, default=10, help='ansible forks for the fleet (default 10)')
    parser.add_argument('--results', default=os.path.join(BUILD, 'results'), help='where latest.json/.md go')
    parser.add_argument('--loop', action='store_true', help='use a loop-mounted ext4 image even on ext4')
    parser.add_argument('--worktree', action='store_true',
                        help='measure the work tree with its uncommitted changes (default: the last commit)')
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error('needs root (rootful podman, swapon, loop devices)')
    only = [item for item in args.only.split(',') if item]
    if set(only) - set(MEASUREMENTS):
        parser.error('--only takes measurement numbers from %s' % ', '.join(MEASUREMENTS))
    sizes = dict(QUICK if args.quick else FULL)
    if args.runs:
        sizes.update(runs=args.runs, fleet_runs=args.runs, floor_runs=min(args.runs, sizes['floor_runs']))

    bench = Bench(args, sizes)
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the cleanup below runs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    report = dict(command=' '.join(['python', 'bench/bench.py'] + (argv if argv is not None else sys.argv[1:])),
                  run_dir=bench.run_dir,
                  quick=args.quick, sizes=sizes, started=now(), load_start=uptime(), measurements=[])
    try:
        bench.prepare()
        for number in only:
            bench.shell.section = number
            before = uptime()
            print('\n## measurement %s (%s)' % (number, before), flush=True)
            result = MEASURE[number](bench)
            result['load'] = dict(before=before, after=uptime())
            result['commands'] = bench.shell.commands.get(number, [])
            report['measurements'].append(result)
            for row in result['rows']:
                print('   %s: %s' % (row['what'], json.dumps({k: v for k, v in row.items() if k != 'what'})))
    except BenchError as exc:
        print('bench: %s' % exc, file=sys.stderr)
        return 1
    finally:
        bench.shell.section = None
        bench.cleanup()
    report.update(finished=now(), load_end=uptime(), machine=machine(bench.commit))
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, 'latest.json'), 'w') as out:
        json.dump(report, out, indent=2, sort_keys=True)
        out.write('\n')
    text = markdown(report)
    with open(os.path.join(args.results, 'latest.md'), 'w') as out:
        out.write(text)
    print('\n' + text)
    print('Wrote %s and %s' % (os.path.join(args.results, 'latest.json'), os.path.join(args.results, 'latest.md')))
    return 0


def now():
    return datetime.datetime.now().astimezone().isoformat(timespec='seconds')


if __name__ == '__main__':
    sys.exit(main())
