# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the measurements of bench/bench.py run on: the run's copy of the collection, its containers
and disks, ansible calls on them, and the cleanup of all of it, also by a later run when the process
that made them was killed."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import hashlib
import json
import os
import re
import shlex
import shutil
import tempfile
import time

from runner import BUILD, HERE, REPO, BenchError, Shell, base_env, display_env

NAME_PREFIX = 'lowmem-bench-'
RUN_LABEL = 'lowmem-hardening.bench-run'
PODMAN_COLLECTION = os.path.join(REPO, '.venv-molecule', 'collections', 'ansible_collections', 'containers', 'podman')
IMAGE_PYTHON = 'localhost/lowmem-hardening/debian12:python'
IMAGE_SYSTEMD = 'localhost/lowmem-hardening/debian12:systemd'
IMAGE_SSH = 'localhost/lowmem-hardening/bench-ssh'
IMAGE_SSH_DIR = os.path.join(HERE, 'images', 'bench-ssh')
LMK_MOUNT = '/sys/module/lowmemorykiller/parameters'
# Main process of a fleet host: no systemd, because each systemd container takes 5 inotify
# instances and the host's fs.inotify.max_user_instances (128 by default) is shared with every
# other container here: at about 25 of them systemd no longer boots, ours or anyone's.
SSHD_BOOT = ('/usr/bin/python3 /opt/lowmem-hardening/tests/fakesysfs/fakesysfs.py "$0" & '
             'cron && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e')
PODMAN_HOST = {'ansible_connection': 'containers.podman.podman'}
# As molecule/resources/inventory/group_vars/all.yml: minbase images have su, not sudo.
PODMAN_BECOME = {'ansible_become_method': 'ansible.builtin.su'}
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


def parse_mib(size):
    """Mebibytes in a size such as 64M or 4G."""
    units = {'M': 1, 'G': 1024}
    return int(float(size[:-1]) * units[size[-1]])


class Bench(object):
    """One run: its options and sizes, its shell, its copy of the collection and what it starts on the host."""

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
        self.disk_root = None
        env = dict(os.environ)
        # Python caches bytecode unless told not to; a caller's shell that says so (this machine's does)
        # would make every timed Python process compile its sources again.
        env.pop('PYTHONDONTWRITEBYTECODE', None)
        env.update(base_env(self.run_dir))
        self.shell = Shell(env)
        self.commit = None

    def name(self, suffix):
        return '%s%d-%s' % (NAME_PREFIX, self.pid, suffix)

    # -- set-up ------------------------------------------------------------

    def prepare(self):
        print('# Environment of every command below, run from %s:' % REPO)
        print(display_env(self.run_dir, '\n'))
        remove_stale_runs(self.shell)
        os.makedirs(self.run_dir)
        self.tmp_dir = tempfile.mkdtemp(prefix='lowmem-bench-')
        for image in (IMAGE_PYTHON, IMAGE_SYSTEMD):
            if self.shell.run(['podman', 'image', 'exists', image], check=False).rc != 0:
                raise BenchError('%s is missing: run `make bench` (it builds the test images), or '
                                 'tests/containers/build-images.sh debian12:python debian12:systemd' % image)
        self.build_ssh_image()
        # The collection under test: the last commit, or the one --commit names (what the results name),
        # or the work tree with --worktree (uncommitted changes too, others' included).
        self.commit = self.shell.run(['git', 'rev-parse', '--short', '--verify', self.args.commit + '^{commit}']).out.strip()
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
    def write(path, text, mode=0o644):
        with open(path, 'w') as out:
            out.write(text)
        os.chmod(path, mode)
        print('# wrote %s:\n%s' % (path, '\n'.join('#   ' + line for line in text.splitlines())))
        return path

    # -- containers ----------------------------------------------------------

    def start(self, name, image, boot, disk=None, swap=False, ssh_keys=None, volumes=()):
        """Start a container with the fake lowmemorykiller sysfs, as molecule/resources/create.yml does.

        boot: systemd (PID 1 mounts the fake sysfs), cron (the fake sysfs, then cron; no systemd),
        sshd (the fake sysfs, cron, then sshd; no systemd) or fakesysfs (the fake sysfs server is the
        main process).
        swap: may swapon (seccomp unconfined) and write /proc/sys (unmasked), not --privileged:
        no host devices, and without systemd nothing applies sysctl.d files to the host at boot.
        ssh_keys: publish sshd on a random port of 127.0.0.1 and authorise this public key file.
        volumes: more --volume arguments (HOST:CONTAINER[:OPTIONS]).
        """
        argv = ['podman', 'run', '--detach', '--name', name, '--hostname', name,
                '--label', '%s=%d' % (RUN_LABEL, self.pid),
                '--tmpfs', '/sys/module:rw,mode=0755,notmpcopyup', '--device', '/dev/fuse', '--cap-add', 'SYS_ADMIN',
                '--volume', '%s:/opt/lowmem-hardening/tests:ro' % os.path.join(REPO, 'tests')]
        if disk:
            argv += ['--volume', '%s:/mnt/disk' % disk]
        for volume in volumes:
            argv += ['--volume', volume]
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
        return self.shell.run(['ansible'] + argv, timed=timed)

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

    def module_runs_on_host(self, name, commands, rounds):
        """Each module's run on the host alone (no transport): keep the AnsiballZ files of one run of
        each command (ANSIBLE_KEEP_REMOTE_FILES), then time them inside the container, alternating.

        commands: [ansible or ansible-playbook argv]. Returns {module name: [seconds...]}.
        """
        listing = ['podman', 'exec', name, 'sh', '-c', 'ls /root/.ansible/tmp/*/AnsiballZ_*.py 2>/dev/null || true']
        self.shell.run(['podman', 'exec', name, 'sh', '-c', 'rm -rf /root/.ansible/tmp/ansible-tmp-*'])
        for argv in commands:
            self.shell.run(argv, extra_env={'ANSIBLE_KEEP_REMOTE_FILES': '1'})
        files = dict((re.search(r'AnsiballZ_(\w+)\.py$', path).group(1), path)
                     for path in self.shell.run(listing).out.split())
        samples = json.loads(self.shell.run(['podman', 'exec', name, '/usr/bin/python3', '-c', ON_HOST_LOOP,
                                             json.dumps(files), str(rounds)], timed=True).out)
        self.shell.run(['podman', 'exec', name, 'sh', '-c', 'rm -rf /root/.ansible/tmp/ansible-tmp-*'])
        return samples

    # -- cleanup -------------------------------------------------------------

    def close_ssh_masters(self):
        control_dir = os.path.join(self.tmp_dir, 'cp')
        for name in sorted(os.listdir(control_dir)) if os.path.isdir(control_dir) else []:
            self.shell.run(['ssh', '-o', 'ControlPath=%s' % os.path.join(control_dir, name), '-O', 'exit', 'bench'],
                           check=False)

    def cleanup(self):
        print('# cleaning up', flush=True)
        if self.tmp_dir:
            self.close_ssh_masters()
        remove_run(self.shell, self.run_dir, self.containers)
        if self.tmp_dir:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# What a run leaves on the host (swap, containers, a loop mount), also when it was killed

def is_active_swap(host_path):
    """Whether the file at host_path is active swap. /proc/swaps shows the path as the container
    saw it, so compare the file itself (device and inode) where that path is also the host's."""
    with open('/proc/swaps') as swaps:
        names = [line.split()[0] for line in swaps.read().splitlines()[1:] if line.strip()]
    for name in names:
        try:
            if os.path.samefile(name, host_path):
                return True
        except OSError:
            # A name under a container's mount is not a host path: match those by basename.
            if os.path.basename(name) == os.path.basename(host_path):
                return True
    return False


def swapoff_active(shell, paths):
    """Swap is kernel-wide: swap off each of these files that is active swap, by its host path."""
    for path in paths:
        if is_active_swap(path):
            shell.run(['swapoff', path], check=False)


def remove_run(shell, run_dir, containers):
    """Remove what the run of run_dir left: its swap, its containers, its disk's loop mount, its files."""
    disk = os.path.join(run_dir, 'disk')
    swapoff_active(shell, [os.path.join(root, name) for root, _dirs, files in os.walk(disk)
                           for name in files if name.endswith('.swap')])
    for name in containers:
        shell.run(['podman', 'rm', '--force', '--time', '1', name], check=False)
    if os.path.ismount(disk):
        shell.run(['umount', disk], check=False)
    shutil.rmtree(run_dir, ignore_errors=True)


def remove_stale_runs(shell):
    """Remove what an earlier run that was killed left behind (its process is gone)."""
    listed = shell.run(['podman', 'ps', '--all', '--filter', 'label=' + RUN_LABEL,
                        '--format', '{{.Names}} {{ index .Labels "%s" }}' % RUN_LABEL]).out.split('\n')
    containers = {}  # {pid of the run: [its containers]}
    for fields in (line.split() for line in listed):
        if len(fields) == 2 and fields[0].startswith(NAME_PREFIX) and fields[1].isdigit():
            containers.setdefault(int(fields[1]), []).append(fields[0])
    if os.path.isdir(BUILD):
        for match in (re.match(r'run-(\d+)$', entry) for entry in os.listdir(BUILD)):
            if match:
                containers.setdefault(int(match.group(1)), [])
    for pid in sorted(pid for pid in containers if not pid_is_bench(pid)):
        remove_run(shell, os.path.join(BUILD, 'run-%d' % pid), containers[pid])


def pid_is_bench(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as cmdline:
            return b'bench.py' in cmdline.read()
    except OSError:
        return False
