# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host layer: the one place where the collection's modules keep their promises about the host.

How this collection writes a file (Changes.write_file): a temporary ``.NAME.lowmem-tmp.RANDOM`` in the same
directory, owned by root and given the final mode before a byte is written, written in full and fsynced,
renamed over NAME with atomic_move under a umask that keeps a new file within its final mode on the way,
given its final mode and owner, and the directory fsynced. Its undo (the old bytes and mode back, or the new
file removed) is registered in the same call.

Everything else a run does to the host goes through here too: the root check (require_root), the per-resource
lock (locked), commands under the C locale (run_command; StreamedCommand for large outputs), the undo log (Changes: each change registers its undo
as it is made; a failure unwinds them all in reverse and fails with one message that says what the run saw),
the readers of /proc/meminfo and /proc/swaps, the process list, and the saved-state file.
The paths are module-level names so that tests can point them elsewhere.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import subprocess  # StreamedCommand alone: module.run_command keeps all output in memory, reading it quadratically
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

MEMINFO = '/proc/meminfo'
PROC_SWAPS = '/proc/swaps'
PROC = '/proc'
# The values lowmem.hardening.lowmemorykiller first saw, so that state=restored can put them back:
# {"paths": {PARAMETERS_DIRECTORY: {"original": {name: text as read}, "adj_autodetect": true/false/null,
#  "persisted": [names in the boot file]}}}, root's alone (0600 in a 0700 directory).
STATE_FILE = '/var/lib/lowmem-hardening/lowmemorykiller.json'
TEMP_MARKER = '.lowmem-tmp.'
KIB = 1024

SwapArea = collections.namedtuple('SwapArea', 'path type size used priority')  # path bytes, sizes in bytes
FileCopy = collections.namedtuple('FileCopy', 'content mode uid gid')
# tty: the controlling terminal's device number (0: none); unit: the systemd unit of its cgroup, or None.
Process = collections.namedtuple('Process', 'pid ppid comm oom_score_adj tty unit')

_OCTAL_ESCAPE = re.compile(br'\\([0-7]{3})')


class StepFailed(Exception):
    """A step on the host failed; the message names what and why."""


def require_root(module, task):
    """Fail before anything is read or written unless the module runs as root."""
    if os.geteuid() != 0:
        module.fail_json(msg='%s must run as root to %s: add become: true. Nothing was changed.'
                             % (module._name, task))


# ---- reading --------------------------------------------------------------------------

def read_bytes(path, missing=b''):
    """A file's bytes; `missing` when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return missing
        raise


def read_files(directory):
    """({name: text}, {path: error}) of the regular files in directory: what could and could not be read."""
    texts, errors = {}, {}
    for name in sorted(os.listdir(directory)):
        full = os.path.join(directory, name)
        try:
            if os.path.isfile(full):
                texts[name] = to_text(read_bytes(full), errors='surrogate_or_strict')
        except (IOError, OSError) as exc:  # write-only or unreadable (vendor parameters)
            errors[full] = to_native(exc.strerror or exc)
    return texts, errors


def parse_meminfo(text):
    """/proc/meminfo -> {name: value}: kB values in bytes (kB are KiB), counts as they are."""
    values = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(':')
        fields = rest.split()
        if sep and fields and fields[0].isdigit():
            values[name.strip()] = int(fields[0]) * (KIB if fields[1:2] == ['kB'] else 1)
    return values


def memory_available(meminfo):
    """MemAvailable; kernels before 3.14 lack it, so estimate it conservatively there."""
    if 'MemAvailable' in meminfo:
        return meminfo['MemAvailable']
    return max(0, meminfo.get('MemFree', 0) + meminfo.get('Buffers', 0)
               + meminfo.get('Cached', 0) - meminfo.get('Shmem', 0))


def format_size(size):
    """Bytes as messages give them: '1 GiB (1073741824 bytes)', '1.00 GiB (1076887552 bytes)' when not exact."""
    for unit, factor in (('TiB', 1024 ** 4), ('GiB', 1024 ** 3), ('MiB', 1024 ** 2), ('KiB', KIB)):
        if size >= factor:
            amount = '%d' % (size // factor) if size % factor == 0 else '%.2f' % (size / factor)
            return '%s %s (%d bytes)' % (amount, unit, size)
    return '%d bytes' % size


def unescape_octal(field):
    """Undo the kernel's \\ooo escaping of space, tab, newline and backslash in a path (bytes)."""
    return _OCTAL_ESCAPE.sub(lambda match: bytes(bytearray([int(match.group(1), 8)])), field)


def parse_swaps(data):
    """/proc/swaps (bytes) -> [SwapArea] in the kernel's order, sizes in bytes."""
    areas = []
    for line in data.split(b'\n')[1:]:
        fields = line.split()
        if len(fields) < 5 or fields[1] == b'(deleted)':
            continue
        try:
            size, used, priority = int(fields[-3]) * KIB, int(fields[-2]) * KIB, int(fields[-1])
        except ValueError:
            continue
        areas.append(SwapArea(unescape_octal(fields[0]), to_text(fields[1]), size, used, priority))
    return areas


def read_meminfo():
    return parse_meminfo(to_text(read_bytes(MEMINFO), errors='surrogate_or_replace'))


def read_swaps():
    return parse_swaps(read_bytes(PROC_SWAPS))


def find_processes(names, scripts=()):
    """{name: [(pid, argv)]} of running processes named in `names` (their comm), oldest pid first.

    A name in `scripts` is also found run by a Python interpreter (its comm is then "python3"); its argv
    is then the script's name and arguments. Processes that end or are hidden (hidepid) while being read are skipped.
    """
    found = collections.defaultdict(list)
    for pid in sorted((p for p in os.listdir(PROC) if p.isdigit()), key=int):
        try:
            comm = to_text(read_bytes(os.path.join(PROC, pid, 'comm')), errors='surrogate_or_replace').strip()
            if comm not in names and not (scripts and comm.startswith('python')):
                continue
            argv = [to_text(arg, errors='surrogate_or_replace')
                    for arg in read_bytes(os.path.join(PROC, pid, 'cmdline')).split(b'\0') if arg]
        except (IOError, OSError):
            continue
        if comm.startswith('python'):
            bases = [os.path.basename(arg) for arg in argv[1:3]]
            script = [name for name in scripts if name in bases]
            if not script:
                continue
            comm, argv = script[0], [script[0]] + argv[bases.index(script[0]) + 2:]
        found[comm].append((int(pid), argv))
    return found


def read_processes():
    """[Process] of every process, pid order: one pass over /proc, three small reads each and no command.

    comm, ppid and tty come from stat (comm is between the first '(' and the last ')', as it may hold
    either), the unit from cgroup. Processes that end or are hidden (hidepid) while being read are skipped.
    """
    processes = []
    for pid in sorted((p for p in os.listdir(PROC) if p.isdigit()), key=int):
        try:
            stat_data = read_bytes(os.path.join(PROC, pid, 'stat'), missing=None)
            adj = read_bytes(os.path.join(PROC, pid, 'oom_score_adj'), missing=None)
            cgroup = read_bytes(os.path.join(PROC, pid, 'cgroup'), missing=None)
            if stat_data is None or adj is None or cgroup is None:
                continue
            comm = stat_data[stat_data.index(b'(') + 1:stat_data.rindex(b')')]
            fields = stat_data[stat_data.rindex(b')') + 1:].split()  # state ppid pgrp session tty_nr ...
            processes.append(Process(int(pid), int(fields[1]), to_text(comm, errors='surrogate_or_replace'),
                                     int(adj), int(fields[4]), _unit_of_cgroup(cgroup)))
        except (IOError, OSError, ValueError, IndexError):
            continue  # ended between two reads (ESRCH, an empty file), or unreadable
    return processes


def _unit_of_cgroup(data):
    """The unit in /proc/PID/cgroup: the last .service or .scope in the path of the unified (0::) line, else of
    cgroup v1's name=systemd line; None for kernel threads and processes outside systemd's tree."""
    paths = {}
    for line in data.split(b'\n'):
        hierarchy, _sep, rest = line.partition(b':')
        controllers, _sep, path = rest.partition(b':')
        if (hierarchy, controllers) == (b'0', b'') or controllers == b'name=systemd':
            paths[controllers] = path
    for key in (b'', b'name=systemd'):
        units = [part for part in paths.get(key, b'').split(b'/') if part.endswith((b'.service', b'.scope'))]
        if units:
            return to_text(units[-1], errors='surrogate_or_replace')
    return None


def has_capability(number):
    """Whether this process holds capability `number` (linux/capability.h) in its effective set."""
    for line in read_bytes(os.path.join(PROC, 'self', 'status')).splitlines():
        if line.startswith(b'CapEff:'):
            return bool(int(line.split()[1], 16) >> number & 1)
    return False


def copy_of(path):
    """FileCopy of a regular file (content, mode, owner), or None when nothing is there."""
    b_path = to_bytes(path, errors='surrogate_or_strict')
    try:
        st = os.lstat(b_path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise
    if not stat.S_ISREG(st.st_mode):
        raise StepFailed('%s is not a regular file' % to_native(path))
    return FileCopy(read_bytes(b_path), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


def load_state():
    """The saved-state file as a dict ({} when missing or unreadable as JSON)."""
    try:
        state = json.loads(to_text(read_bytes(STATE_FILE, missing=b'{}')))
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


# ---- locks and commands -----------------------------------------------------------------

@contextlib.contextmanager
def locked(*paths):
    """Hold exclusive flocks on these directories (a missing one: its nearest existing parent) until the
    block ends. Locking a directory creates no lock file, so a run that is refused still writes nothing."""
    fds = []
    try:
        for path in paths:
            directory = to_bytes(path, errors='surrogate_or_strict')
            while not os.path.isdir(directory) and directory != os.path.dirname(directory):
                directory = os.path.dirname(directory)
            fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
            if any(os.path.samestat(os.fstat(fd), os.fstat(held)) for held in fds):
                os.close(fd)  # a second flock of one directory would wait for this run itself
                continue
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)


def run_command(module, argv, binary=False):
    """(rc, out, err) of argv, run without a shell under the C locale, whose messages callers match."""
    return module.run_command(argv, expand_user_and_vars=False, environ_update={'LC_ALL': 'C', 'LANGUAGE': 'C'},
                              encoding=None if binary else 'utf-8')


class StreamedCommand(object):
    """A command whose output is read as it comes, in chunks, for outputs too large for run_command.

    ansible-core's run_command appends each 32 KiB read to one bytes object: reading 500 MB that way takes
    most of an hour. Here argv runs without a shell, under the C locale, stdin from /dev/null and stderr to
    an unnamed temporary file (no pipe to fill); chunks() yields stdout and, once it ends, sets rc and err.
    """

    def __init__(self, argv, chunk_size=1 << 20):
        self.argv = [to_bytes(arg, errors='surrogate_or_strict') for arg in argv]
        self.chunk_size = chunk_size
        self.rc = None
        self.err = b''

    def chunks(self):
        environment = dict(os.environ, LC_ALL='C', LANGUAGE='C')
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                           env=environment, close_fds=True)
            except OSError as exc:
                self.rc, self.err = 127, to_bytes(describe(exc))
                return
            try:
                while True:
                    chunk = process.stdout.read(self.chunk_size)
                    if not chunk:
                        break
                    yield chunk
            finally:
                process.stdout.close()
                if process.poll() is None:
                    process.kill()  # the reader stopped early
                self.rc = process.wait()
                errors.seek(0)
                self.err = errors.read()


def checked_command(module, argv):
    """Run argv; its output, or StepFailed naming the command and its error."""
    rc, out, err = run_command(module, argv)
    if rc != 0:
        command = ' '.join(to_text(arg, errors='surrogate_or_replace') for arg in argv)
        raise StepFailed('%s failed (rc=%d): %s' % (command, rc, (err or out).strip()))
    return out


def write_once(path, data):
    """One write(2) of data to a kernel file (sysfs, /proc/sys), as `echo data > path` does; no O_CREAT."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def fsync_directory(b_directory):
    fd = os.open(b_directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_quietly(b_name):
    try:
        os.unlink(b_name)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def temporary(b_directory, b_basename):
    """(fd, name) of a new, empty, 0600 file ``.BASENAME.lowmem-tmp.RANDOM`` in b_directory, owned by root."""
    fd, b_name = tempfile.mkstemp(dir=b_directory, prefix=b'.' + b_basename + to_bytes(TEMP_MARKER))
    try:
        os.fchown(fd, 0, 0)  # a setgid directory would hand out its group
    except BaseException:
        os.close(fd)
        os.unlink(b_name)
        raise
    return fd, b_name


def replace_file(module, path, content, mode, owner=(0, 0)):
    """Atomically make path hold content (bytes) with mode and owner; see the module docstring."""
    b_path = to_bytes(path, errors='surrogate_or_strict')
    b_directory, b_basename = os.path.split(b_path)
    fd, b_temporary = temporary(b_directory, b_basename)
    try:
        try:
            os.fchown(fd, owner[0], owner[1])
            os.fchmod(fd, mode)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        # atomic_move gives a file it creates 0666 & ~umask: this umask makes that the final mode minus x bits
        saved_umask = os.umask(0o777 & ~mode)
        try:
            module.atomic_move(to_native(b_temporary), to_native(b_path))
        finally:
            os.umask(saved_umask)
    finally:
        remove_quietly(b_temporary)
    os.chown(b_path, owner[0], owner[1])  # atomic_move keeps a replaced file's mode and owner
    os.chmod(b_path, mode)
    fsync_directory(b_directory)


# ---- changes and their undo ------------------------------------------------------------------

class Changes(object):
    """The changes one run makes to the host, each with its undo.

    Use as a context manager around the steps that change the host. An OSError, IOError or StepFailed in the
    block unwinds every registered undo, newest first, then fails the module with one message, `result` (what
    the run saw) and `verify()`'s findings about what is still different; any other exception unwinds and
    propagates (fail_json's exit included).
    """

    def __init__(self, module, result=None, undone='Everything this run changed was undone.',
                 incomplete='Undoing the run failed too, the host may be changed: %s.'):
        self.module = module
        self.result = result if result is not None else {}
        self.verify = None
        self.undone = undone
        self.incomplete = incomplete
        self._undo = []

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if kind is None:
            self._undo = []
            return False
        problems = self.unwind()
        if not issubclass(kind, (OSError, IOError, StepFailed)):
            return False
        problems += self.verify() if self.verify else []
        tail = self.incomplete % '; '.join(problems) if problems else self.undone
        self.module.fail_json(msg='%s. %s' % (describe(error).rstrip('.'), tail), **self.result)

    def did(self, undo):
        """Register the undo of a change just made (a callable)."""
        self._undo.append(undo)

    def unwind(self):
        """Run every undo, newest first; return what could not be undone."""
        problems = []
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as exc:  # keep undoing the rest; report what could not be undone
                problems.append(describe(exc))
        return problems

    def make_directory(self, path, mode):
        """Create path and missing parents with mode; each created one is removed again on undo."""
        b_path = to_bytes(path, errors='surrogate_or_strict').rstrip(b'/')
        if not b_path or os.path.isdir(b_path):
            return
        self.make_directory(os.path.dirname(b_path), 0o755)
        os.mkdir(b_path, mode)
        os.chmod(b_path, mode)
        self.did(lambda: os.rmdir(b_path))

    def write_file(self, path, content, mode=None, directory_mode=0o755, backup=False):
        """Atomically make path hold content (bytes or text); root-owned with mode, or, with mode None,
        the mode and owner of the file it replaces (0644 root for a new one). Returns the backup's name
        (ansible's backup_local) when backup is asked and there was a file, else None."""
        old = copy_of(path)
        self.make_directory(os.path.dirname(path), directory_mode)
        backup_name = self.module.backup_local(path) if backup and old is not None else None
        if backup_name:
            self.did(lambda: remove_quietly(to_bytes(backup_name, errors='surrogate_or_strict')))
        if mode is None and old is not None:
            mode, owner = old.mode, (old.uid, old.gid)
        else:
            mode, owner = mode if mode is not None else 0o644, (0, 0)
        self.did(lambda: self._put_back(path, old))
        replace_file(self.module, path, to_bytes(content, errors='surrogate_or_strict'), mode, owner)
        return backup_name

    def remove_file(self, path):
        """Remove a regular file; its undo writes it back with its mode and owner."""
        old = copy_of(path)
        if old is None:
            return
        b_path = to_bytes(path, errors='surrogate_or_strict')
        os.unlink(b_path)
        self.did(lambda: self._put_back(path, old))
        fsync_directory(os.path.dirname(b_path))

    def _put_back(self, path, old):
        if old is None:
            remove_quietly(to_bytes(path, errors='surrogate_or_strict'))
        else:
            replace_file(self.module, path, old.content, old.mode, (old.uid, old.gid))

    def save_state(self, state):
        """Write the saved-state file (0600 in a 0700 directory); with no paths left, remove both."""
        if state.get('paths'):
            self.write_file(STATE_FILE, json.dumps(state, indent=2, sort_keys=True), mode=0o600,
                            directory_mode=0o700)
            return
        self.remove_file(STATE_FILE)
        directory = os.path.dirname(STATE_FILE)
        try:
            os.rmdir(directory)  # ours by name; kept if anything else is in it
        except OSError:
            return
        self.did(lambda: os.mkdir(directory, 0o700))


def describe(error):
    """An exception as one line: OSErrors as 'strerror: filename', others as their text."""
    if isinstance(error, EnvironmentError) and error.strerror:
        name = getattr(error, 'filename', None)
        return '%s: %s' % (error.strerror, to_native(name)) if name else to_native(error.strerror)
    return to_native(error)
