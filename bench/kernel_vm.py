# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Times of the real-kernel VM (tests/kernel), for the closing notes and bench/README.md:

  boot    from starting QEMU to root's first SSH login: cold (the page cache dropped first, so the
          kernel, initramfs and root disk come from disk) and warm, alternating, RUNS of each;
  call    one ad hoc `ansible` call over SSH (pipelining): lowmem.hardening.lowmemorykiller with
          nothing to change, alternating with ansible.builtin.ping, RUNS pairs on one VM.

Run as root after `make kernel-vm-build`, from the checkout (make bench-kernel-vm does both):
  python3 bench/kernel_vm.py [--runs N] [--results FILE.md]
Prints a Markdown table (median, min-max); the VMs live in build/bench/kernel-vm and are stopped at
the end. Needs ansible-core and the collection on ANSIBLE_COLLECTIONS_PATH (make sets both)."""

from __future__ import print_function

import argparse
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VM_PY = os.path.join(REPO, 'tests', 'kernel', 'vm.py')
VM_DIR = os.path.join(REPO, 'build', 'bench', 'kernel-vm')


def shown(command):
    print('$ ' + ' '.join(command), file=sys.stderr)
    return command


def boot_seconds(cold):
    """Seconds from QEMU's start to the first SSH login of a fresh VM."""
    subprocess.run([sys.executable, VM_PY, 'stop', VM_DIR], check=True)
    if cold:
        subprocess.run(['sync'], check=True)
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('3\n')
    started = time.time()
    subprocess.run(shown([sys.executable, VM_PY, 'start', VM_DIR, '--name', 'bench-kernel-vm']),
                   check=True, stdout=subprocess.DEVNULL)
    return time.time() - started


def call_seconds(inventory, module, args):
    command = ['ansible', '-i', inventory, 'bench-kernel-vm', '-m', module] + (['-a', args] if args else [])
    started = time.time()
    subprocess.run(shown(command), check=True, stdout=subprocess.DEVNULL)
    return time.time() - started


def row(name, times):
    return '| %s | %.2f s | %.2f–%.2f s | %d |' % (name, statistics.median(times), min(times), max(times),
                                                   len(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--results', help='also write the table to this Markdown file')
    args = parser.parse_args()
    os.environ.setdefault('ANSIBLE_PIPELINING', 'true')
    os.environ.setdefault('ANSIBLE_HOST_KEY_CHECKING', 'false')
    cold, warm, module_times, ping_times = [], [], [], []
    try:
        for run in range(args.runs):
            # Alternate, so that a change in the machine's load hits both alike.
            for is_cold in ((True, False) if run % 2 == 0 else (False, True)):
                (cold if is_cold else warm).append(boot_seconds(is_cold))
        inventory = os.path.join(VM_DIR, 'inventory.ini')
        with open(inventory, 'w') as f:
            f.write(subprocess.run([sys.executable, VM_PY, 'inventory', VM_DIR], check=True,
                                   stdout=subprocess.PIPE, universal_newlines=True).stdout)
        module_args = 'state=disabled persist=none'
        call_seconds(inventory, 'lowmem.hardening.lowmemorykiller', module_args)  # the one change
        for run in range(args.runs):
            pair = ((module_times, 'lowmem.hardening.lowmemorykiller', module_args), (ping_times, 'ping', ''))
            for times, module, module_arguments in (pair if run % 2 == 0 else pair[::-1]):
                times.append(call_seconds(inventory, module, module_arguments))
    finally:
        subprocess.run([sys.executable, VM_PY, 'stop', VM_DIR], check=False)
    table = '\n'.join([
        '| what | median | min–max | runs |',
        '| --- | --- | --- | --- |',
        row('boot to SSH, cold page cache', cold),
        row('boot to SSH, warm', warm),
        row('lowmemorykiller, nothing to change (ad hoc, SSH)', module_times),
        row('ansible.builtin.ping (ad hoc, SSH)', ping_times),
    ]) + '\n\nlowmemorykiller / ping: %.2fx (medians); load average at the end: %s\n' % (
        statistics.median(module_times) / statistics.median(ping_times),
        ' '.join(open('/proc/loadavg').read().split()[:3]))
    print(table)
    if args.results:
        with open(args.results, 'w') as f:
            f.write(table)


if __name__ == '__main__':
    main()
