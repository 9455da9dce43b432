# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write each case of a table to lowmemorykiller's parameters and record what the kernel answers.

    python3 probe_param_writes.py [--path DIR] [--no-kmsg] [--expect VARIANT] < CASES.json > RESULTS.json

Runs as root on the machine under test (a real kernel, or a fake sysfs with --path); Python 3.6+,
standard library only, so it can be copied into any guest and run there.

CASES.json is an object with
  "restore": [[NAME, DATA], ...]   the writes that put the driver's defaults back before each case
  "cases":   [{"id": ID, "param": NAME, "data": DATA}, ...]
(any other keys are ignored: the committed fixture, which holds these two keys too, is a valid input).
DATA are the exact bytes of one write(2), one JSON character per byte (U+0000..U+00FF).

For each case it runs the restore writes, checks that they leave the same values every time, opens
DIR/NAME for writing (O_TRUNC, as `echo > FILE` does), makes ONE write(2) of DATA and records:
  "outcome"  "ok" or the errno's name (EINVAL, ERANGE, ...)
  "written"  what write(2) returned (null when it failed)
  "read"     {NAME: the exact bytes read back from every parameter file}
  "kmsg"     the kernel's own messages (facility 0) logged during the write, without --no-kmsg
It prints {"uname": ..., "boot": {NAME: bytes read before any write}, "restored": {...},
"results": [...]} as JSON. Exit status 2 when a restore write fails or does not reproduce the
values of the first restore (the table is then meaningless); the JSON is not printed.

--expect VARIANT compares the answers with those recorded in the input's "variants"/VARIANT (the
fixture tests/unit/plugins/modules/fixtures/param_writes.json has "plain" and "android"): every
difference is printed to stderr and the exit status is 1. "uname" is not compared; "kmsg" only when
both sides have it.
"""

from __future__ import absolute_import, division, print_function

import argparse
import errno
import json
import os
import sys

DEFAULT_PATH = '/sys/module/lowmemorykiller/parameters'


def to_bytes(text):
    return text.encode('latin-1')


def to_text(data):
    return data.decode('latin-1')


class Sysfs(object):
    """The parameters directory, read and written as a user's shell would."""

    def __init__(self, path):
        self.path = path

    def names(self):
        return sorted(name for name in os.listdir(self.path) if os.path.isfile(os.path.join(self.path, name)))

    def read(self, name):
        with open(os.path.join(self.path, name), 'rb') as f:
            return f.read()

    def write(self, name, data):
        """One write(2); the number of bytes it accepted, or OSError."""
        fd = os.open(os.path.join(self.path, name), os.O_WRONLY | os.O_TRUNC)
        try:
            return os.write(fd, data)
        finally:
            os.close(fd)


class Kmsg(object):
    """New records of /dev/kmsg since the last call, kernel facility only (not userspace's writes)."""

    def __init__(self, device='/dev/kmsg'):
        self.fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def new_messages(self):
        messages = []
        while True:
            try:
                record = os.read(self.fd, 8192)
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    return messages
                if exc.errno == errno.EPIPE:  # records were overwritten before we read them
                    continue
                raise
            if not record:
                return messages
            prefix, dummy, message = to_text(record).partition(';')
            if int(prefix.split(',')[0]) >> 3 == 0:
                messages.append(message.split('\n', 1)[0])

    def close(self):
        os.close(self.fd)


def snapshot(sysfs):
    return dict((name, to_text(sysfs.read(name))) for name in sysfs.names())


def attempt(sysfs, name, data):
    """(outcome, written) of one write."""
    try:
        return 'ok', sysfs.write(name, data)
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno)), None


def run(sysfs, restore, cases, kmsg=None):
    """The whole probe: {"boot", "restored", "results"}; RuntimeError when restoring fails."""
    report = {'boot': snapshot(sysfs), 'restored': None, 'results': []}
    for case in cases:
        for name, data in restore:
            outcome, written = attempt(sysfs, name, to_bytes(data))
            if outcome != 'ok' or written != len(to_bytes(data)):
                raise RuntimeError('restoring %s with %r before case %s: %s' % (name, data, case['id'], outcome))
        restored = snapshot(sysfs)
        if report['restored'] is None:
            report['restored'] = restored
        elif restored != report['restored']:
            raise RuntimeError('before case %s the restore writes left %r, not %r'
                               % (case['id'], restored, report['restored']))
        if kmsg:
            kmsg.new_messages()
        outcome, written = attempt(sysfs, case['param'], to_bytes(case['data']))
        result = {'id': case['id'], 'outcome': outcome, 'written': written, 'read': snapshot(sysfs)}
        if kmsg:
            result['kmsg'] = kmsg.new_messages()
        report['results'].append(result)
    return report


def differences(expected, report):
    """Where report differs from the recorded expected answers: a list of lines (empty when none)."""
    found = []
    for key in ('boot', 'restored'):
        if expected.get(key) != report.get(key):
            found.append('%s: expected %r, got %r' % (key, expected.get(key), report.get(key)))
    recorded = dict((result['id'], result) for result in expected.get('results', []))
    for result in report['results']:
        want = recorded.get(result['id'])
        if want is None:
            found.append('%s: not in the recorded answers' % result['id'])
            continue
        for key in ('outcome', 'written', 'read', 'kmsg'):
            if key == 'kmsg' and (key not in want or key not in result):
                continue
            if want.get(key) != result.get(key):
                found.append('%s: %s: expected %r, got %r' % (result['id'], key, want.get(key), result.get(key)))
    missing = sorted(set(recorded) - set(result['id'] for result in report['results']))
    if missing:
        found.append('not run: %s' % ', '.join(missing))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--path', default=DEFAULT_PATH, help='the parameters directory (%s)' % DEFAULT_PATH)
    parser.add_argument('--no-kmsg', action='store_true', help='do not record kernel messages')
    parser.add_argument('--expect', metavar='VARIANT',
                        help='compare with the answers recorded in the input under variants/VARIANT')
    args = parser.parse_args(argv)
    table = json.load(sys.stdin)
    if args.expect and args.expect not in table.get('variants', {}):
        parser.error('--expect %s: the input has no recorded answers for it (variants: %s)'
                     % (args.expect, ', '.join(sorted(table.get('variants', {}))) or 'none'))
    kmsg = None if args.no_kmsg else Kmsg()
    try:
        report = run(Sysfs(args.path), table['restore'], table['cases'], kmsg)
    except RuntimeError as exc:
        print('probe_param_writes: %s' % exc, file=sys.stderr)
        return 2
    finally:
        if kmsg:
            kmsg.close()
    report['uname'] = os.uname()[2]
    json.dump(report, sys.stdout, indent=1, sort_keys=True)
    print()
    if args.expect:
        found = differences(table['variants'][args.expect], report)
        for line in found:
            print('probe_param_writes: differs from %s: %s' % (args.expect, line), file=sys.stderr)
        return 1 if found else 0
    return 0


if __name__ == '__main__':
    sys.exit(main())
