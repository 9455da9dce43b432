# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A FUSE file system that serves lowmemorykiller's sysfs parameters for tests.

    python3 fakesysfs.py [--android] [--max-entries N] [--type NAME=TYPE]... [--vendor NAME=VALUE]...
                         [--fail-write N:ERRNO]... [--read-only] [--store-instead NAME=VALUE]...
                         MOUNTPOINT

A directory of plain files is not sysfs: a write that does not truncate (systemd-tmpfiles'
`w` lines) leaves old bytes behind there. Here, as in sysfs, every write(2) is one store of
the whole value, with or without O_TRUNC, and follows kernel/params.c exactly: the semantics
come from the unit tests' kernel model (tests/unit/plugins/modules/kernel_model.py), which
this server loads and drives, so the module's unit tests and the containers agree.

It starts with the driver's defaults and keeps nothing on disk, so every start (every boot
of a test container) shows the defaults again, as the kernel does. Files are root:root 0644
and the mount uses default_permissions: anyone may read, only root may write (EACCES).
Under systemd (Type=notify) it reports READY=1 once mounted. SIGTERM or SIGINT unmounts.

Kernels other than mainline, and kernels that misbehave, through the model's own hooks:
  --android (or --autodetect)   Android's oom_adj autodetection: 0,1,6,12 written to adj reads 0,58,352,705
  --type NAME=TYPE              parse the driver's parameter NAME as short, int or uint instead of the type
                                the staging driver declares, e.g. minfree=int as the test bed's driver does
  --vendor NAME=VALUE           one more parameter: Y or N (a bool), an integer, or integers joined by commas
                                (an array), e.g. enable_adaptive_lmk=Y, vmpressure_file_min=81250
  --fail-write N:ERRNO          the Nth write(2) to any parameter of this mount (counted from 1, failed
                                ones included) fails with ERRNO (a name such as EINVAL, or a number)
  --read-only                   every write fails with EROFS, as on a read-only sysfs: opening for writing
                                already does
  --store-instead NAME=VALUE    a write to NAME is accepted but NAME then shows VALUE
The repeatable ones may be given more than once.

Uses Debian's python3-pyfuse3 (libfuse 3), in Debian 12 and 13 alike.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import argparse
import errno
import importlib.util
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time

import pyfuse3
import trio

KERNEL_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            '..', 'unit', 'plugins', 'modules', 'kernel_model.py')


def load_kernel_model():
    spec = importlib.util.spec_from_file_location('kernel_model', KERNEL_MODEL)
    kernel_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kernel_model)
    return kernel_model


class ParametersFS(pyfuse3.Operations):
    """One directory (the parameters/ directory itself) of one file per parameter."""

    def __init__(self, model):
        super(ParametersFS, self).__init__()
        self.model = model
        self.names = sorted(model.params)
        # Inode 1 is the root; parameters follow in name order.
        self.inodes = dict((name, pyfuse3.ROOT_INODE + 1 + i) for i, name in enumerate(self.names))
        self.by_inode = dict((inode, name) for name, inode in self.inodes.items())
        now = time.time_ns()
        self.mtimes = dict((inode, now) for inode in [pyfuse3.ROOT_INODE] + list(self.by_inode))

    def attributes(self, inode):
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = inode
        # No caching of names or sizes: every stat asks, so a size is never stale.
        attrs.entry_timeout = 0
        attrs.attr_timeout = 0
        if inode == pyfuse3.ROOT_INODE:
            attrs.st_mode = stat.S_IFDIR | 0o755
            attrs.st_nlink = 2
        else:
            attrs.st_mode = stat.S_IFREG | 0o644
            attrs.st_nlink = 1
            # The real length (sysfs says 4096): tools that trust st_size read all of it.
            attrs.st_size = len(self.model.text(self.by_inode[inode]).encode('ascii'))
        attrs.st_uid = attrs.st_gid = 0
        attrs.st_blksize = 4096
        attrs.st_atime_ns = attrs.st_ctime_ns = attrs.st_mtime_ns = self.mtimes[inode]
        return attrs

    def known(self, inode):
        if inode != pyfuse3.ROOT_INODE and inode not in self.by_inode:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return inode

    async def getattr(self, inode, ctx=None):
        return self.attributes(self.known(inode))

    async def lookup(self, parent_inode, name, ctx=None):
        inode = self.inodes.get(os.fsdecode(name)) if parent_inode == pyfuse3.ROOT_INODE else None
        if inode is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self.attributes(inode)

    async def setattr(self, inode, attr, fields, fh, ctx):
        """Truncation is accepted and ignored, as sysfs does; nothing else can change."""
        self.known(inode)
        if self.model.read_only:
            raise pyfuse3.FUSEError(errno.EROFS)
        if fields.update_mode or fields.update_uid or fields.update_gid:
            raise pyfuse3.FUSEError(errno.EPERM)
        return self.attributes(inode)

    async def opendir(self, inode, ctx):
        if inode != pyfuse3.ROOT_INODE:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        return inode

    async def readdir(self, fh, start_id, token):
        for index, name in enumerate(self.names[start_id:], start_id + 1):
            if not pyfuse3.readdir_reply(token, os.fsencode(name), self.attributes(self.inodes[name]), index):
                break

    async def open(self, inode, flags, ctx):
        if self.known(inode) == pyfuse3.ROOT_INODE:
            raise pyfuse3.FUSEError(errno.EISDIR)
        # A read-only sysfs refuses the open for writing already, before any write(2).
        if self.model.read_only and flags & os.O_ACCMODE != os.O_RDONLY:
            raise pyfuse3.FUSEError(errno.EROFS)
        # direct_io: reads and writes bypass the page cache and reach the model every time,
        # so nothing written earlier can be read back from a stale cached page.
        return pyfuse3.FileInfo(fh=inode, direct_io=True, keep_cache=False)

    async def read(self, fh, off, size):
        return self.model.text(self.by_inode[fh]).encode('ascii')[off:off + size]

    async def write(self, fh, off, buf):
        """One write(2) is one store of the whole value, at any offset, as in sysfs."""
        name = self.by_inode[fh]
        try:
            written = self.model.write(os.path.join(self.model.path, name), bytes(buf))
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno)
        finally:
            self.mtimes[fh] = time.time_ns()
        return written


def notify_systemd(message):
    """sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET, when there is one."""
    address = os.environ.get('NOTIFY_SOCKET')
    if not address:
        return
    if address.startswith('@'):
        address = '\0' + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(message.encode('ascii'))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('mountpoint', help='where to mount, e.g. /sys/module/lowmemorykiller/parameters; '
                                           'created when missing')
    parser.add_argument('--android', '--autodetect', dest='android', action='store_true',
                        help="behave like an Android kernel with oom_adj autodetection")
    parser.add_argument('--max-entries', type=int, default=6, help='size of the adj and minfree arrays (6)')
    parser.add_argument('--type', action='append', default=[], type=param_type, metavar='NAME=TYPE',
                        help="the type (short, int or uint) of one of the driver's parameters")
    parser.add_argument('--vendor', action='append', default=[], type=vendor_param, metavar='NAME=VALUE',
                        help='one more parameter: Y or N, an integer, or integers joined by commas')
    parser.add_argument('--fail-write', action='append', default=[], type=failed_write, metavar='N:ERRNO',
                        help='the Nth write (from 1) fails with ERRNO, a name such as EINVAL or a number')
    parser.add_argument('--read-only', action='store_true', help='every write fails with EROFS')
    parser.add_argument('--store-instead', action='append', default=[], type=name_and_text, metavar='NAME=VALUE',
                        help='a write to NAME is accepted, but NAME then shows VALUE')
    return parser.parse_args(argv)


def name_and_text(argument):
    name, sep, text = argument.partition('=')
    if not sep or not name or '/' in name or name in ('.', '..'):
        raise argparse.ArgumentTypeError('%r is not NAME=VALUE with a file name as NAME' % argument)
    return name, text


def param_type(argument):
    name, kind = name_and_text(argument)
    if kind not in ('short', 'int', 'uint'):
        raise argparse.ArgumentTypeError('%r: the type must be short, int or uint' % argument)
    return name, kind


def parse_value(shape, text):
    """A value of the given shape ('array', 'scalar' or 'bool') from its text; ValueError when it is not one."""
    if shape == 'bool':
        if text not in ('Y', 'N'):
            raise ValueError('%r is not Y or N' % text)
        return text == 'Y'
    try:
        numbers = [int(element, 0) for element in text.split(',')] if text else []
    except ValueError:
        raise ValueError('%r is not an integer or integers joined by commas' % text)
    if shape == 'array':
        return numbers
    if len(numbers) != 1:
        raise ValueError('%r is not one integer' % text)
    return numbers[0]


def vendor_param(argument):
    """NAME=VALUE as a parameter definition of the kernel model: (name, (shape, type, value))."""
    name, text = name_and_text(argument)
    shape = 'bool' if text in ('Y', 'N') else 'array' if ',' in text else 'scalar'
    try:
        value = parse_value(shape, text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError('%s: %s' % (name, exc))
    return name, (shape, None if shape == 'bool' else 'int', value)


def failed_write(argument):
    number, sep, code = argument.partition(':')
    try:
        number = int(number)
        code = int(code) if code.isdigit() else getattr(errno, code)
    except (ValueError, AttributeError):
        number = code = None
    if not sep or not number or number < 1 or not code or code not in errno.errorcode:
        raise argparse.ArgumentTypeError('%r is not N:ERRNO (a write number from 1 and an errno such as EINVAL '
                                         'or 22)' % argument)
    return number, code


def build_model(kernel_model, directory, args):
    """The kernel model with the command line's parameters and faults; SystemExit(2) on a bad value."""
    vendor = dict(args.vendor)
    clashes = sorted(set(vendor) & set(kernel_model.DEFAULTS))
    if clashes:
        raise SystemExit('fakesysfs: --vendor %s: the driver has this parameter already' % ', '.join(clashes))
    types = dict(args.type)
    unknown = sorted(set(types) - set(kernel_model.DEFAULTS))
    if unknown:
        raise SystemExit('fakesysfs: --type %s: not a parameter of the driver (%s)'
                         % (', '.join(unknown), ', '.join(sorted(kernel_model.DEFAULTS))))
    model = kernel_model.KernelModel(directory, autodetect=args.android, max_entries=args.max_entries,
                                     vendor=vendor, types=types)
    model.fail_write = dict(args.fail_write)
    model.read_only = args.read_only
    for name, text in args.store_instead:
        if name not in model.params:
            raise SystemExit('fakesysfs: --store-instead %s: no such parameter (%s)'
                             % (name, ', '.join(sorted(model.params))))
        try:
            model.store_instead[name] = parse_value(model.params[name][0], text)
        except ValueError as exc:
            raise SystemExit('fakesysfs: --store-instead %s: %s' % (name, exc))
    return model


def main(argv=None):
    args = parse_args(argv)
    kernel_model = load_kernel_model()
    # The model keeps a copy of what it shows in plain files; they live and die with this process.
    # Not in /tmp: systemd-tmpfiles-setup.service empties /tmp at boot, after this has started.
    scratch = tempfile.mkdtemp(prefix='lowmem-fakesysfs.', dir='/run' if os.path.isdir('/run') else None)
    try:
        model = build_model(kernel_model, os.path.join(scratch, 'parameters'), args)
        if not os.path.isdir(args.mountpoint):
            os.makedirs(args.mountpoint)
        options = set(pyfuse3.default_options)
        options.discard('default_permissions')
        # default_permissions: the kernel checks the 0644 modes (EACCES for non-root writers);
        # allow_other: other users may read, as they may read sysfs.
        options.update(['fsname=lowmem-fakesysfs', 'default_permissions', 'allow_other'])
        pyfuse3.init(ParametersFS(model), args.mountpoint, options)
        try:
            notify_systemd('READY=1')
            trio.run(serve)
        finally:
            pyfuse3.close(unmount=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


async def serve():
    """Run the FUSE loop until SIGTERM or SIGINT, then return so main() unmounts."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pyfuse3.main)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                print('lowmem-fakesysfs: %s, unmounting' % signal.Signals(signum).name, file=sys.stderr)
                nursery.cancel_scope.cancel()
                return


if __name__ == '__main__':
    sys.exit(main())
