# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop the real-kernel VMs (tests/kernel/README.md).

Each VM lives in a directory of its own: a copy-on-write overlay of one of the
root disks that tests/kernel/build.sh made (so every start begins clean), the
serial console's log, QEMU's pid file and vm.json (name, SSH port, key).

  vm.py start DIR [--name NAME] [--flavour vm|openrc] [--switch NAME=VALUE]... [--append WORD]...
      boot a VM (512 MiB, one vCPU, TCG) and wait until root can log in over
      SSH on 127.0.0.1; --switch sets a load-time switch of the test driver
      (android_autodetect=1, record_format=4.9), --append adds a kernel
      command line word (e.g. lowmemorykiller.minfree=1).
  vm.py wait DIR...        wait until root can log in to each (after start --no-wait)
  vm.py stop DIR...        stop the VMs and remove their overlays (console.log stays
                           until the next start, for a look after a failure)
  vm.py inventory DIR...   print an Ansible inventory of the VMs
  vm.py ssh-config DIR...  print an ssh_config with a Host entry per VM
"""

from __future__ import print_function

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get('LOWMEM_KERNEL_BUILD', os.path.join(REPO, 'build', 'kernel'))
SSH_OPTIONS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
               '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5']
# Under TCG on a loaded machine a boot can take many times the usual 15 s.
BOOT_TIMEOUT = int(os.environ.get('LOWMEM_VM_BOOT_TIMEOUT', '300'))


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def read_vm(directory):
    with open(os.path.join(directory, 'vm.json')) as f:
        return json.load(f)


def qemu_command(directory, name, flavour, port, append):
    command_line = ['console=ttyS0', 'quiet', 'panic=-1', 'net.ifnames=0'] + append
    return [
        'qemu-system-x86_64', '-name', name, '-accel', os.environ.get('LOWMEM_VM_ACCEL', 'tcg'),
        '-m', '512', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none',
        '-kernel', os.path.join(BUILD, 'kernel', 'vmlinuz'), '-initrd', os.path.join(BUILD, 'initramfs.gz'),
        '-append', ' '.join(command_line),
        '-serial', 'file:' + os.path.join(directory, 'console.log'),
        '-drive', 'file=%s,if=virtio,format=qcow2' % os.path.join(directory, 'overlay.qcow2'),
        # restrict=on: the guest reaches nothing, only the forwarded SSH port reaches it.
        '-netdev', 'user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22' % port,
        '-device', 'virtio-net-pci,netdev=net0',
        '-daemonize', '-pidfile', os.path.join(directory, 'qemu.pid'),
    ]


def ssh_command(vm, *command):
    return (['ssh'] + SSH_OPTIONS + ['-i', vm['key'], '-p', str(vm['port']), 'root@127.0.0.1', '--']
            + list(command))


def qemu_alive(directory):
    try:
        with open(os.path.join(directory, 'qemu.pid')) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def console_tail(directory, lines=40):
    try:
        with open(os.path.join(directory, 'console.log'), errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return '(no console log)'


def wait_for_ssh(directory, vm, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not qemu_alive(directory):
            raise SystemExit('vm.py: %s: QEMU has stopped; its console:\n%s' % (vm['name'], console_tail(directory)))
        probe = subprocess.run(ssh_command(vm, 'true'), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
        if probe.returncode == 0:
            print('%s: SSH on 127.0.0.1:%d, %.1f s after QEMU started'
                  % (vm['name'], vm['port'], time.time() - vm['started']))
            return
        time.sleep(1)
    raise SystemExit('vm.py: %s: no SSH after %d s; its console (%s):\n%s'
                     % (vm['name'], timeout, os.path.join(directory, 'console.log'), console_tail(directory)))


def start(args):
    directory = os.path.abspath(args.dir)
    name = args.name or os.path.basename(directory)
    disk = os.path.join(BUILD, 'disk-%s.img' % args.flavour)
    for needed in (disk, os.path.join(BUILD, 'initramfs.gz'), os.path.join(BUILD, 'kernel', 'vmlinuz')):
        if not os.path.exists(needed):
            raise SystemExit('vm.py: %s is missing: run tests/kernel/build.sh (make kernel-vm-build)' % needed)
    if os.path.exists(os.path.join(directory, 'vm.json')) and qemu_alive(directory):
        raise SystemExit('vm.py: %s is running already (vm.py stop %s)' % (name, args.dir))
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', disk, '-F', 'raw',
                    os.path.join(directory, 'overlay.qcow2')], check=True)
    # TCG runs the guest many times slower than hardware: the driver's one second of waiting for a
    # victim to die becomes ten (tests/kernel/lowmemorykiller/README.md), unless a switch says otherwise.
    switches = ['deathpending_ms=10000'] + args.switch
    append = ['lmktest.%s' % switch for switch in switches] + args.append
    # The port is free when chosen but may be taken before QEMU binds it: then try another.
    for attempt in range(3):
        port = free_port()
        started = time.time()
        qemu = subprocess.run(qemu_command(directory, name, args.flavour, port, append),
                              stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True,
                              check=False)
        if qemu.returncode == 0:
            break
        if 'hostfwd' not in qemu.stderr or attempt == 2:
            raise SystemExit('vm.py: %s: QEMU failed: %s' % (name, qemu.stderr.strip()))
    vm = {'name': name, 'port': port, 'key': os.path.join(BUILD, 'id_ed25519'), 'flavour': args.flavour,
          'append': append, 'console': os.path.join(directory, 'console.log'), 'started': started}
    with open(os.path.join(directory, 'vm.json'), 'w') as f:
        json.dump(vm, f, indent=2)
    if not args.no_wait:
        wait_for_ssh(directory, vm, BOOT_TIMEOUT)


def wait(args):
    for directory in args.dir:
        wait_for_ssh(os.path.abspath(directory), read_vm(directory), BOOT_TIMEOUT)


def stop(args):
    for directory in args.dir:
        try:
            with open(os.path.join(directory, 'qemu.pid')) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGTERM)
            for dummy in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass
        for name in ('overlay.qcow2', 'qemu.pid', 'vm.json'):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass


def inventory(args):
    print('[kernel_vms]')
    for directory in args.dir:
        vm = read_vm(directory)
        print('%s ansible_host=127.0.0.1 ansible_port=%d ansible_user=root ansible_ssh_private_key_file=%s '
              'ansible_ssh_common_args=%s ansible_python_interpreter=/usr/bin/python3'
              % (vm['name'], vm['port'], vm['key'],
                 shlex.quote('-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null')))


def ssh_config(args):
    for directory in args.dir:
        vm = read_vm(directory)
        print('Host %s\n  HostName 127.0.0.1\n  Port %d\n  User root\n  IdentityFile %s\n'
              '  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  BatchMode yes\n'
              % (vm['name'], vm['port'], vm['key']))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command')
    commands.required = True
    starting = commands.add_parser('start')
    starting.add_argument('dir')
    starting.add_argument('--name')
    starting.add_argument('--flavour', choices=['vm', 'openrc'], default='vm')
    starting.add_argument('--switch', action='append', default=[], metavar='NAME=VALUE')
    starting.add_argument('--append', action='append', default=[], metavar='WORD')
    starting.add_argument('--no-wait', action='store_true')
    starting.set_defaults(run=start)
    for name, run in (('wait', wait), ('stop', stop), ('inventory', inventory), ('ssh-config', ssh_config)):
        sub = commands.add_parser(name)
        sub.add_argument('dir', nargs='+')
        sub.set_defaults(run=run)
    args = parser.parse_args()
    args.run(args)


if __name__ == '__main__':
    sys.exit(main())
