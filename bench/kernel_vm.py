# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Times of the real-kernel VM (tests/kernel), for the closing notes and bench/README.md:

  boot    from starting QEMU to root's first SSH login: cold (the page cache dropped first, so the
          kernel, initramfs and root disk come from disk) and warm, alternating, RUNS of each;
  call    one ad hoc `ansible` call over SSH (pipelining): lowmem.hardening.lowmemorykiller with
          nothing to change, alternating with ansible.builtin.ping, RUNS pairs on one VM;
  swap    the kernel scenario's memory hog (site-build, HOG_MIB MiB) on one fresh VM with the swap file
          alone (lowmem.hardening.swapfile) and with zram alone (lowmem.hardening.zram size="ram / 2",
          one variant per --zram-algorithm), lowmemorykiller disabled in all; the variants alternate
          (their order rotates every run), each set up by an ad hoc module call and torn down with
          state=absent after its hog; one warm-up round (not counted), then RUNS of each.

Run as root after `make kernel-vm-build`, from the checkout (make bench-kernel-vm does both):
  python3 bench/kernel_vm.py [--runs N] [--only boot|call|swap]... [--results FILE.md]
Prints Markdown tables (median, min-max); the VMs live in build/bench/kernel-vm (boot, call) and
build/bench/kernel-vm-swap (swap) and are stopped at the end. Needs ansible-core and the collection on
ANSIBLE_COLLECTIONS_PATH (make sets both)."""

from __future__ import print_function

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VM_PY = os.path.join(REPO, 'tests', 'kernel', 'vm.py')
VM_DIR = os.path.join(REPO, 'build', 'bench', 'kernel-vm')
SWAP_VM_DIR = os.path.join(REPO, 'build', 'bench', 'kernel-vm-swap')
SWAP_VM_NAME = 'bench-kernel-vm-swap'
SWAPFILE = '/swapfile'
WATCHER_PATH = '/usr/local/lib/bench-hogwatch.py'

# Runs in the guest (python3, stdlib only): drops the page cache, runs the hog and samples the guest
# every 0.1 s while it runs; prints one JSON object. Times come from the guest's CLOCK_MONOTONIC; the
# hog's peak RSS from wait4's ru_maxrss (the kernel's high-water mark of its resident set, VmHWM).
WATCHER = r'''
import json, os, subprocess, sys, time

MM_FIELDS = ('orig_data_size', 'compr_data_size', 'mem_used_total', 'mem_limit', 'mem_used_max', 'same_pages',
             'pages_compacted', 'huge_pages')


def swaps():
    with open('/proc/swaps') as f:
        rows = [line.split() for line in f.read().splitlines()[1:]]
    return dict((r[0], {'size_kb': int(r[2]), 'used_kb': int(r[3]), 'priority': int(r[4])}) for r in rows)


def meminfo():
    with open('/proc/meminfo') as f:
        return dict((l.split(':')[0], int(l.split()[1])) for l in f if l.split()[1].isdigit())


def vmstat():
    with open('/proc/vmstat') as f:
        return dict((l.split()[0], int(l.split()[1])) for l in f)


def mm_stat():
    try:
        with open('/sys/block/zram0/mm_stat') as f:
            return dict(zip(MM_FIELDS, [int(v) for v in f.read().split()]))
    except OSError:
        return None


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def kernel_log():
    return subprocess.run(['dmesg'], stdout=subprocess.PIPE, universal_newlines=True).stdout.splitlines()


if sys.argv[1] == 'mixed-hog':
    # The optional hog of --hog-data mixed: site-build's steps, but every page holds a third random bytes and
    # two thirds text, about 2.5:1 compressible, no page same-filled.
    total_mib, text = int(sys.argv[2]), (b'lowmem.hardening zram swapfile site-build ' * 100)[:2731]
    print('mixed-hog: pid %d, touching %d MiB in 8 MiB steps' % (os.getpid(), total_mib), flush=True)
    held = []
    while len(held) * 8 < total_mib:
        held.append(b''.join(os.urandom(1365) + text for page in range(2048)))
    print('mixed-hog: done, %d MiB touched' % (len(held) * 8))
    sys.exit(0)
timeout = float(sys.argv[1])
argv = sys.argv[2:]
os.sync()
with open('/proc/sys/vm/drop_caches', 'w') as f:
    f.write('3\n')
time.sleep(1)
before = {'swaps': swaps(), 'mem_available_kb': meminfo()['MemAvailable'], 'mem_total_kb': meminfo()['MemTotal'],
          'swappiness': int(read('/proc/sys/vm/swappiness')), 'comp_algorithm': read('/sys/block/zram0/comp_algorithm'),
          'disksize': read('/sys/block/zram0/disksize'), 'lmk_minfree': read('/sys/module/lowmemorykiller/parameters/minfree'),
          'lmk_adj': read('/sys/module/lowmemorykiller/parameters/adj')}
log_before = len(kernel_log())
vm_before = vmstat()
peak_used, peak_areas, low_available, peak_mm, peak_hwm = 0, {}, before['mem_available_kb'], None, 0
out = open('/tmp/bench-hog.out', 'w')
started = time.monotonic()
hog = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
timed_out = False
while True:
    pid, status, rusage = os.wait4(hog.pid, os.WNOHANG)
    if pid:
        break
    if time.monotonic() - started > timeout:
        hog.kill()
        timed_out = True
    areas = swaps()
    used = sum(a['used_kb'] for a in areas.values())
    if used > peak_used:
        peak_used, peak_areas = used, areas
    low_available = min(low_available, meminfo()['MemAvailable'])
    stat = mm_stat()
    if stat is not None and (peak_mm is None or stat['orig_data_size'] > peak_mm['orig_data_size']):
        peak_mm = stat
    for line in (read('/proc/%d/status' % hog.pid) or '').splitlines():
        if line.startswith('VmHWM:'):
            peak_hwm = max(peak_hwm, int(line.split()[1]))
    time.sleep(0.1)
seconds = time.monotonic() - started
out.close()
vm_after = vmstat()
print(json.dumps({
    'seconds': round(seconds, 2), 'exit_status': os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    'signal': os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, 'timed_out': timed_out,
    'ru_maxrss_kb': rusage.ru_maxrss, 'vmhwm_sampled_kb': peak_hwm, 'mem_available_low_kb': low_available,
    'peak_swap_used_kb': peak_used, 'peak_swap_areas': peak_areas, 'mm_stat_peak': peak_mm, 'before': before,
    'pswpout': vm_after['pswpout'] - vm_before['pswpout'], 'pswpin': vm_after['pswpin'] - vm_before['pswpin'],
    'swaps_after': swaps(), 'output': open('/tmp/bench-hog.out').read().splitlines()[-2:],
    'kernel_log': [l for l in kernel_log()[log_before:] if 'kill' in l.lower() or 'oom' in l.lower()][:10]}))
'''


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


def write_inventory(directory):
    inventory = os.path.join(directory, 'inventory.ini')
    with open(inventory, 'w') as f:
        f.write(subprocess.run([sys.executable, VM_PY, 'inventory', directory], check=True,
                               stdout=subprocess.PIPE, universal_newlines=True).stdout)
    return inventory


def load_average():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def measure_boot_and_call(args):
    cold, warm, module_times, ping_times = [], [], [], []
    try:
        for run in range(args.runs if 'boot' in args.only else 0):
            # Alternate, so that a change in the machine's load hits both alike.
            for is_cold in ((True, False) if run % 2 == 0 else (False, True)):
                (cold if is_cold else warm).append(boot_seconds(is_cold))
        if 'call' in args.only:
            if not cold:
                boot_seconds(False)
            inventory = write_inventory(VM_DIR)
            module_args = 'state=disabled persist=none'
            call_seconds(inventory, 'lowmem.hardening.lowmemorykiller', module_args)  # the one change
            for run in range(args.runs):
                pair = ((module_times, 'lowmem.hardening.lowmemorykiller', module_args), (ping_times, 'ping', ''))
                for times, module, module_arguments in (pair if run % 2 == 0 else pair[::-1]):
                    times.append(call_seconds(inventory, module, module_arguments))
    finally:
        subprocess.run([sys.executable, VM_PY, 'stop', VM_DIR], check=False)
    lines = ['| what | median | min–max | runs |', '| --- | --- | --- | --- |']
    if cold:
        lines += [row('boot to SSH, cold page cache', cold), row('boot to SSH, warm', warm)]
    if module_times:
        lines += [row('lowmemorykiller, nothing to change (ad hoc, SSH)', module_times),
                  row('ansible.builtin.ping (ad hoc, SSH)', ping_times)]
    tail = '\n\n'
    if module_times:
        tail += 'lowmemorykiller / ping: %.2fx (medians); ' % (
            statistics.median(module_times) / statistics.median(ping_times))
    return '\n'.join(lines) + tail + 'load average at the end: %s\n' % load_average()


# The swap measurement ----------------------------------------------------------------------------------

def ansible_json(inventory, module, module_args):
    """One ad hoc call on the swap VM; returns (seconds, the host's result as a dict, from ansible --tree)."""
    tree = os.path.join(SWAP_VM_DIR, 'tree')
    shutil.rmtree(tree, ignore_errors=True)
    command = (['ansible', '-i', inventory, SWAP_VM_NAME, '--tree', tree, '-m', module]
               + (['-a', module_args] if module_args else []))
    started = time.time()
    done = subprocess.run(shown(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)
    seconds = time.time() - started
    try:
        with open(os.path.join(tree, SWAP_VM_NAME)) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = {'failed': True, 'msg': 'no result (rc %d): %s' % (done.returncode, done.stdout[-2000:])}
    return seconds, result


def variant_calls(args):
    """name -> (expected swap area, set-up call, tear-down call)."""
    variants = [('swapfile', SWAPFILE,
                 ('lowmem.hardening.swapfile', 'path=%s size=%s' % (SWAPFILE, args.swapfile_size)),
                 ('lowmem.hardening.swapfile', 'path=%s state=absent' % SWAPFILE))]
    for algorithm in args.zram_algorithm:
        variants.append(('zram-' + algorithm, '/dev/zram0',
                         ('lowmem.hardening.zram', 'size="%s" algorithm=%s' % (args.zram_size, algorithm)),
                         ('lowmem.hardening.zram', 'state=absent')))
    return variants


def failure(result):
    return result.get('msg') or result.get('stderr') or json.dumps(result)[:500]


def hog_run(inventory, args, name, area, setup, teardown):
    run = {'variant': name}
    seconds, result = ansible_json(inventory, setup[0], setup[1])
    run['setup'] = {'seconds': round(seconds, 1), 'changed': result.get('changed'), 'failed': bool(result.get('failed'))}
    if result.get('failed'):
        run['error'] = 'set-up failed: %s' % failure(result)
    else:
        hog = ('/usr/local/bin/site-build' if args.hog_data == 'site-build'
               else '/usr/bin/python3 %s mixed-hog' % WATCHER_PATH)
        command = '/usr/bin/python3 %s %d %s %d' % (WATCHER_PATH, args.hog_timeout, hog, args.hog_mib)
        dummy, result = ansible_json(inventory, 'ansible.builtin.command', command)
        try:
            run.update(json.loads(result['stdout']))
        except (KeyError, ValueError):
            run['error'] = 'the watcher failed: %s' % failure(result)
        else:
            if sorted(run['before']['swaps']) != [area]:
                run['error'] = 'swap areas before the hog were %s, not [%s]' % (sorted(run['before']['swaps']), area)
    seconds, result = ansible_json(inventory, teardown[0], teardown[1])
    run['teardown'] = {'seconds': round(seconds, 1), 'changed': result.get('changed'), 'failed': bool(result.get('failed'))}
    if result.get('failed'):
        run['teardown']['msg'] = failure(result)
    print('%s: %s' % (name, json.dumps(dict((k, v) for k, v in run.items() if k not in ('before',)))), file=sys.stderr)
    return run


def outcome(run):
    if run.get('error'):
        return 'failed'
    if run['timed_out']:
        return 'timed out (%d s)' % run['seconds']
    if run['signal']:
        return 'killed (signal %d)' % run['signal']
    return 'completed' if run['exit_status'] == 0 else 'exit %d' % run['exit_status']


def ratio_text(stat):
    if not stat or not stat['orig_data_size']:
        return '–'
    orig = stat['orig_data_size']
    compressed = '∞' if not stat['compr_data_size'] else '%.1f' % (orig / stat['compr_data_size'])
    return '%.1f' % (orig / max(stat['mem_used_total'], 1)) + ' (orig/compr %s)' % compressed


def spread(values, unit, digits=1):
    if not values:
        return '–'
    form = '%.' + str(digits) + 'f'
    return (form + ' %s (' + form + '–' + form + ')') % (statistics.median(values), unit, min(values), max(values))


def mib(kb):
    return kb / 1024.0


def measure_swap(args):
    variants = variant_calls(args)
    runs = []
    try:
        subprocess.run([sys.executable, VM_PY, 'stop', SWAP_VM_DIR], check=True)
        subprocess.run(shown([sys.executable, VM_PY, 'start', SWAP_VM_DIR, '--name', SWAP_VM_NAME]),
                       check=True, stdout=subprocess.DEVNULL)
        inventory = write_inventory(SWAP_VM_DIR)
        watcher = os.path.join(SWAP_VM_DIR, 'hogwatch.py')
        with open(watcher, 'w') as f:
            f.write(WATCHER)
        for module, module_args in (('ansible.builtin.copy', 'src=%s dest=%s mode=0755' % (watcher, WATCHER_PATH)),
                                    ('lowmem.hardening.lowmemorykiller', 'state=disabled persist=none')):
            dummy, result = ansible_json(inventory, module, module_args)
            if result.get('failed'):
                raise SystemExit('kernel_vm.py: %s failed: %s' % (module, failure(result)))
        # A warm-up round first, not counted: the first swap file written after boot makes QEMU allocate
        # the qcow2 overlay's clusters under it (about twice the hog time), and zram's first set-up loads
        # its modules from the disk.
        for name, area, setup, teardown in variants * args.warmup:
            runs.append(dict(hog_run(inventory, args, name, area, setup, teardown), warmup=True))
        for run in range(args.runs):
            # Rotate the order every run, so that a change in the machine's load hits every variant alike.
            shift = run % len(variants)
            for name, area, setup, teardown in variants[shift:] + variants[:shift]:
                runs.append(hog_run(inventory, args, name, area, setup, teardown))
    finally:
        subprocess.run([sys.executable, VM_PY, 'stop', SWAP_VM_DIR], check=False)
        with open(SWAP_VM_DIR + '-runs-%s.json' % args.hog_data, 'w') as f:
            json.dump(runs, f, indent=1)
    return swap_tables(args, variants, runs)


def swap_tables(args, variants, runs):
    lines = ['| variant | completed | hog time (guest clock), median (min–max) | peak swap used | '
             'zram mm_stat at its peak: orig / compressed / mem_used_total, ratio | hog peak RSS (VmHWM) | '
             'MemAvailable low point |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    medians = {}
    for name, area, setup, teardown in variants:
        mine = [r for r in runs if r['variant'] == name and not r.get('warmup')]
        ok = [r for r in mine if not r.get('error')]
        done = [r for r in ok if outcome(r) == 'completed']
        stats = [r['mm_stat_peak'] for r in ok if r.get('mm_stat_peak')]
        zram = '–'
        if stats:
            middle = sorted(stats, key=lambda s: s['orig_data_size'])[len(stats) // 2]
            zram = '%.0f / %.1f / %.1f MiB, %s' % (middle['orig_data_size'] / 1048576.0,
                                                   middle['compr_data_size'] / 1048576.0,
                                                   middle['mem_used_total'] / 1048576.0, ratio_text(middle))
        medians[name] = {'time': statistics.median([r['seconds'] for r in done]) if done else None,
                         'rss': statistics.median([r['ru_maxrss_kb'] for r in ok]) if ok else None,
                         'low': statistics.median([r['mem_available_low_kb'] for r in ok]) if ok else None}
        lines.append('| %s (%s) | %d of %d%s | %s | %s | %s | %s | %s |' % (
            name, ' '.join(setup[1:]), len(done), len(mine),
            ''.join('; %s' % outcome(r) for r in mine if outcome(r) != 'completed'),
            spread([r['seconds'] for r in done], 's', 2),
            spread([mib(r['peak_swap_used_kb']) for r in ok], 'MiB'), zram,
            spread([mib(r['ru_maxrss_kb']) for r in ok], 'MiB'),
            spread([mib(r['mem_available_low_kb']) for r in ok], 'MiB')))
    lines.append('')
    base = medians.get('swapfile', {})
    for name, area, setup, teardown in variants[1:]:
        parts = []
        for key, label in (('time', 'hog time'), ('rss', 'hog peak RSS'), ('low', 'MemAvailable low point')):
            if medians[name][key] and base.get(key):
                parts.append('%s %.2fx' % (label, medians[name][key] / base[key]))
            else:
                parts.append('%s n/a' % label)
        lines.append('%s / swapfile (medians): %s.  ' % (name, ', '.join(parts)))
    first = next((r for r in runs if r.get('before')), None)
    if first:
        lines.append('Guest: MemTotal %.0f MiB, MemAvailable before the hog %.0f MiB, swappiness %d, lowmemorykiller '
                     'adj %s minfree %s; hog: %s %d MiB.  ' % (
                         mib(first['before']['mem_total_kb']), mib(first['before']['mem_available_kb']),
                         first['before']['swappiness'], first['before']['lmk_adj'], first['before']['lmk_minfree'],
                         args.hog_data, args.hog_mib))
    lines.append('')
    lines.append('| run | variant | outcome | time | peak swap used | pswpout | hog VmHWM | MemAvailable low | '
                 'mm_stat orig / compr / used / same_pages |')
    lines.append('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    warmups = len([r for r in runs if r.get('warmup')])
    for number, r in enumerate(runs):
        label = 'warm-up, not counted' if r.get('warmup') else '%d' % ((number - warmups) // len(variants) + 1)
        if r.get('error'):
            lines.append('| %s | %s | failed: %s | | | | | | |' % (label, r['variant'],
                                                                   r['error'].replace('|', '/').replace('\n', ' ')[:300]))
            continue
        stat = r.get('mm_stat_peak')
        lines.append('| %s | %s | %s | %.2f s | %.1f MiB | %d | %.1f MiB | %.1f MiB | %s |' % (
            label, r['variant'], outcome(r), r['seconds'], mib(r['peak_swap_used_kb']),
            r['pswpout'], mib(r['ru_maxrss_kb']), mib(r['mem_available_low_kb']),
            '%d / %d / %d B / %d' % (stat['orig_data_size'], stat['compr_data_size'], stat['mem_used_total'],
                                     stat['same_pages']) if stat else '–'))
    return '\n'.join(lines) + '\n\nload average at the end: %s\n' % load_average()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=None, help='repetitions (5 for boot and call, 3 for swap)')
    parser.add_argument('--only', action='append', choices=['boot', 'call', 'swap'],
                        help='run only these measurements (repeatable; default all)')
    parser.add_argument('--swapfile-size', default='512M', help='the swap file variant\'s size (512M)')
    parser.add_argument('--zram-size', default='ram / 2', help='zram\'s size (ram / 2)')
    parser.add_argument('--zram-algorithm', action='append',
                        help='a zram variant per algorithm (repeatable; default zstd and lz4)')
    parser.add_argument('--hog-mib', type=int, default=560, help='what site-build touches, MiB (560)')
    parser.add_argument('--hog-data', action='append', choices=['site-build', 'mixed'],
                        help='the hog: site-build (the kernel scenario\'s job, one byte repeated, so zram stores '
                             'most pages as same-filled without compressing them) or mixed (the same steps, pages '
                             'about 2.5:1 compressible); repeatable, a table each (default site-build)')
    parser.add_argument('--warmup', type=int, default=1, help='rounds of every variant run first and not counted (1)')
    parser.add_argument('--hog-timeout', type=int, default=900, help='seconds before a hog is killed (900)')
    parser.add_argument('--results', help='also write the tables to this Markdown file')
    args = parser.parse_args()
    args.only = args.only or ['boot', 'call', 'swap']
    args.zram_algorithm = args.zram_algorithm or ['zstd', 'lz4']
    os.environ.setdefault('ANSIBLE_PIPELINING', 'true')
    os.environ.setdefault('ANSIBLE_HOST_KEY_CHECKING', 'false')
    sections = []
    if 'boot' in args.only or 'call' in args.only:
        boot_args = argparse.Namespace(**vars(args))
        boot_args.runs = args.runs or 5
        sections.append('## Boot and one module call\n\n' + measure_boot_and_call(boot_args))
    if 'swap' in args.only:
        swap_args = argparse.Namespace(**vars(args))
        swap_args.runs = args.runs or 3
        for hog_data in args.hog_data or ['site-build']:
            swap_args.hog_data = hog_data
            sections.append('## The memory hog (%s): swap file alone vs zram alone\n\n' % hog_data
                            + measure_swap(swap_args))
    text = '\n'.join(sections)
    print(text)
    if args.results:
        with open(args.results, 'w') as f:
            f.write(text)


if __name__ == '__main__':
    main()
