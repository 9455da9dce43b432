# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record how the real kernel answers the table of parameter writes, for the unit tests.

    python3 tests/kernel/record_param_writes.py            # (root) boot, probe, stop; write the fixture
    python3 tests/kernel/record_param_writes.py --check    # the same, but compare with the fixture instead

The table is tests/unit/plugins/modules/param_write_cases.py. For each test-bed kernel variant
(plain, and Android's oom_adj autodetection: --switch android_autodetect=1) it boots a VM with
tests/kernel/vm.py into PREFIX+VARIANT (--vm-prefix, default build/kernel-vm/param-writes-), one at
a time, runs tests/kernel/probe_param_writes.py in it and stops it again. --plain-vm DIR and
--android-vm DIR use VMs that are running already (started by vm.py start, with the right
switches) and leave them running. Needs what tests/kernel/build.sh built (make kernel-vm-build).

It writes tests/unit/plugins/modules/fixtures/param_writes.json: the table ("restore", "cases"),
the kernel release, the parameter types the driver declares (its .modinfo "parmtype" strings,
read from build/kernel/lowmemorykiller.ko) and, under "variants", each variant's answers.
test_kernel_param_writes.py compares kernel_model.KernelModel with it in every unit-test run.
--check writes nothing: it prints each difference between the live answers and the fixture and
exits 1 when there is one.
"""

from __future__ import print_function

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get('LOWMEM_KERNEL_BUILD', os.path.join(REPO, 'build', 'kernel'))
PROBE = os.path.join(HERE, 'probe_param_writes.py')
CASES = os.path.join(REPO, 'tests', 'unit', 'plugins', 'modules', 'param_write_cases.py')
FIXTURE = os.path.join(REPO, 'tests', 'unit', 'plugins', 'modules', 'fixtures', 'param_writes.json')
VARIANTS = (('plain', []), ('android', ['android_autodetect=1']))
GUEST_PROBE = '/root/probe_param_writes.py'


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table():
    cases = load(CASES, 'param_write_cases')
    ids = [case[0] for case in cases.CASES]
    duplicates = sorted(set(i for i in ids if ids.count(i) > 1))
    if duplicates:
        raise SystemExit('record_param_writes: duplicate case ids in %s: %s' % (CASES, ', '.join(duplicates)))
    return {
        'restore': [list(write) for write in cases.RESTORE],
        'cases': [{'id': i, 'param': param, 'data': data} for i, param, data in cases.CASES],
    }


def parameter_types(module_file):
    """{name: type} of the driver's sysfs parameters, from the .modinfo strings of its .ko."""
    with open(module_file, 'rb') as f:
        found = re.findall(rb'parmtype=(\w+):([^\x00]*)\x00', f.read())
    return dict((name.decode(), kind.decode()) for name, kind in found)


def probe(vm_py, directory, inputs):
    """Run the probe in the VM of `directory` with `inputs` on its stdin; its JSON report."""
    vm = vm_py.read_vm(directory)
    with open(PROBE, 'rb') as f:
        subprocess.run(vm_py.ssh_command(vm, 'cat > %s' % GUEST_PROBE), input=f.read(), check=True)
    run = subprocess.run(vm_py.ssh_command(vm, 'python3', GUEST_PROBE), input=json.dumps(inputs).encode(),
                         stdout=subprocess.PIPE, check=True)
    return json.loads(run.stdout.decode())


def answers(vm_py, name, switches, directory, inputs, boot):
    if not boot:
        return probe(vm_py, directory, inputs)
    start = [sys.executable, vm_py.__file__, 'start', directory, '--name', 'param-writes-' + name]
    for switch in switches:
        start += ['--switch', switch]
    try:
        subprocess.run(start, check=True)
        return probe(vm_py, directory, inputs)
    finally:
        subprocess.run([sys.executable, vm_py.__file__, 'stop', directory], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--check', action='store_true', help='compare with the fixture instead of writing it')
    parser.add_argument('--vm-prefix', default=os.path.join(REPO, 'build', 'kernel-vm', 'param-writes-'),
                        help='the VMs booted here go to PREFIX plus plain or android')
    parser.add_argument('--plain-vm', metavar='DIR', help='a running plain VM to use instead of booting one')
    parser.add_argument('--android-vm', metavar='DIR', help='a running VM with android_autodetect=1 to use')
    parser.add_argument('--output', default=FIXTURE, help='where to write the fixture (%(default)s)')
    args = parser.parse_args()

    vm_py = load(os.path.join(HERE, 'vm.py'), 'vm')
    inputs = table()
    fixture = dict(inputs, generated_by='python3 tests/kernel/record_param_writes.py',
                   parmtype=parameter_types(os.path.join(BUILD, 'lowmemorykiller.ko')), variants={})
    given = {'plain': args.plain_vm, 'android': args.android_vm}
    for name, switches in VARIANTS:
        directory = given[name] or args.vm_prefix + name
        report = answers(vm_py, name, switches, directory, inputs, boot=not given[name])
        fixture['kernel'] = report.pop('uname')
        fixture['variants'][name] = dict(report, switches=switches)

    if args.check:
        with open(args.output) as f:
            recorded = json.load(f)
        probe_module = load(PROBE, 'probe_param_writes')
        found = []
        for key in ('restore', 'cases', 'parmtype'):
            if recorded.get(key) != fixture[key]:
                found.append('%s differs: re-record the fixture' % key)
        for name, dummy in VARIANTS:
            found += ['%s: %s' % (name, line) for line in
                      probe_module.differences(recorded['variants'][name], fixture['variants'][name])]
        for line in found:
            print(line)
        print('%d differences between the kernel %s and %s' % (len(found), fixture['kernel'], args.output))
        return 1 if found else 0

    with open(args.output + '.tmp', 'w') as f:
        json.dump(fixture, f, indent=1, sort_keys=True)
        f.write('\n')
    os.rename(args.output + '.tmp', args.output)
    print('Wrote %s: %d cases on %s, variants %s'
          % (os.path.relpath(args.output), len(inputs['cases']), fixture['kernel'], ', '.join(fixture['variants'])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
