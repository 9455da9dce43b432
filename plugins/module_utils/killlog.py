# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find memory-pressure kills in kernel and daemon logs: pure functions, no I/O.

Lines (or raw chunks of a log) go in, kill dicts come out, oldest first, in constant memory.

Each line is split into its prefixes (e-mail quoting, syslog/ISO/journal/logcat time, host and
program, kmsg priority or record header, the kernel's [uptime]) and a body. The body is matched
against the record formats of lowmemorykiller, the kernel OOM killer, Android lmkd, earlyoom,
systemd-oomd and nohang, each declared in its killer's section below. They are searched anywhere in
the body, so vendor prefixes such as ``lowmemorykiller:``, ``[SELECTED]`` or ``(0)[45:kswapd0]`` need
no special case. Candidates (``select ... to kill``, ``Kill process ... score N or sacrifice child``)
are never kills. docs/kill-records.md lists every format, the releases that print it, the fields taken
from it and its test.

A record may go on over following lines (multi-line records, journal continuations, lines
wrapped by mail or bug trackers). Those lines carry no keyword, so the parser says how many of
the next lines it wants to see (``follow``); every other line without a keyword is skipped before
any per-line work, which is what makes scan_chunks fast.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import functools
import re
import time

KILL_FIELDS = ('time', 'killer', 'pid', 'comm', 'adj', 'rss_kb', 'signal', 'cgroup', 'uid', 'trigger', 'action',
               'source', 'lines')


class _Lazy(object):
    """A regular expression compiled when it is first used, so that importing this module compiles
    nothing and a scan compiles only the patterns of the lines it meets. The first use puts the
    compiled pattern's own methods in the instance: later calls cost what the compiled pattern's do."""

    _METHODS = ('search', 'match', 'finditer', 'sub', 'split')

    def __init__(self, pattern, flags=0):
        self.pattern = pattern
        self.flags = flags

    def __getattr__(self, name):
        if name not in self._METHODS:
            raise AttributeError(name)
        compiled = re.compile(self.pattern, self.flags)
        for method in self._METHODS:
            setattr(self, method, getattr(compiled, method))
        return getattr(compiled, name)


# Every line that starts a record or stands for one holds a keyword (_CANDIDATE): a kill word, a signal
# name, or "command: " (nohang may run a command on its victim instead of sending a signal). Lines that
# only continue a record are read because the parser asks for them (follow), and the lines printed just
# before a record are read back from it (LOOKBACK).
# Each keyword's search over a chunk, and the bytes that must come just before it (None: any), so
# that a keyword found is exactly a _CANDIDATE: "ill" alone is also "will", "still" and "fill".
# "mmand: " rather than "command: ": the search runs over every byte for the first one, and "m" is rarer.
_KEYWORD_SCANS = ((_Lazy(b'ill'), frozenset(b'Kk')), (_Lazy(b'SIG'), None), (_Lazy(b'mmand: '), None))
# The kernel's own logs (kern.log, the ring buffer) hold no userspace killer's lines: their scan skips the
# third search, which costs as much as each of the others and finds only nohang's command lines.
_KERNEL_KEYWORD_SCANS = _KEYWORD_SCANS[:2]
_CANDIDATE = _Lazy(r'[Kk]ill|SIG|mmand: ')
_CANDIDATE_BYTES = _Lazy(br'[Kk]ill|SIG|mmand: ')
# How many lines before a record the parser may look back at: nohang's victim block and
# systemd-oomd's "attempting to kill PID" lines are printed just before the record they belong to.
LOOKBACK = 24

MAX_RECORD_LINES = 24
# Kills are held back while late lines (oom_reaper, a failed send, a record's next line) can still reach
# them, and at most this many.
_HELD_KILLS = 8
# A log "line" longer than this without a newline is cut (binary junk must not grow memory).
_MAX_LINE_BYTES = 1 << 20

_SIGNALS = {1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 15: 'SIGTERM'}
_MONTHS = dict((name, number) for number, name in enumerate(
    ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'), 1))


def is_candidate(line):
    """Whether a line may start or stand for a kill record (the cheap test before any parsing)."""
    return (_CANDIDATE_BYTES if isinstance(line, bytes) else _CANDIDATE).search(line) is not None


# ---------------------------------------------------------------------------
# Prefixes

_ISO = r'\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d(?::?\d\d)?)?'
# The month as the C locale prints it, or as another locale does (journalctl under LANG=fr: "avril").
_BSD = r'[^\W\d_]{3,5}\.? [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)?'
# "host prog[pid]: " after a wall-clock time; busybox adds "facility.level" before the program.
_HOST_PROG = (r':?(?:\s+(?:(?P<host>[^\s:]+)\s+)?(?:[a-z]+\.[a-z]+\s+)?'
              r'(?P<prog>[^\s:\[\]]+)(?:\[\d+\])?:(?=\s|$))?')
_RFC5424 = _Lazy(r'<\d{1,3}>1 (?P<wall>' + _ISO + r') (?P<host>\S+) (?P<prog>\S+) \S+ \S+ (?:-|(?:\[[^\]]*\])+)')
# journalctl -o short-full: "Thu 2024-02-04 02:28:44 UTC host prog[pid]:"
_FULL = _Lazy(r'(?P<wall>[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [A-Za-z][\w+-]*)' + _HOST_PROG)
_ISO_PREFIX = _Lazy(r'(?P<wall>' + _ISO + r')' + _HOST_PROG)
_BSD_PREFIX = _Lazy(r'(?P<wall>' + _BSD + r')' + _HOST_PROG)
# Android logcat: threadtime "02-04 02:28:44.123  1234  1235 I tag: ", time "02-04 02:28:44.123 I/tag( 1234): "
_LOGCAT = _Lazy(r'(?P<wall>\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s+(?:\d+\s+\d+\s+[VDIWEFA] (?P<prog>[^:]*?)\s*:|'
                r'[VDIWEFA]/(?P<prog2>[^(:]*?)\(\s*\d+\):)')
# Wall-clock prefixes by the first character of the line: a digit, "<" or a capital letter.
_WALL_PREFIXES = {'0': (_ISO_PREFIX, _LOGCAT), '<': (_RFC5424,), 'A': (_BSD_PREFIX, _FULL)}
_KERNEL_PREFIX = _Lazy(
    r'<\d{1,3}>'
    r'|\d+,\d+,(?P<usec>\d+),[^;]*;'
    r'|(?:kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local\d)\s*:'
    r'\s*(?:emerg|alert|crit|err|warn|notice|info|debug)\s*:'
    r'|\[\s*(?P<uptime>\d+\.\d+)\](?:\s*\[\s*[TC]\d+\])?'
    # journalctl -o short-monotonic names the program after the stamp: "[ 77.74] host prog[pid]:"
    r'(?:\s+(?:[^\s:\[\]]+\s+)?(?P<mprog>[^\s:\[\]]+)\[\d+\]:(?=\s|$))?'
    # the console of a test VM: "machine # [ 16.87] ..."
    r'|[\w.-]+ # (?=\[)'
    r'|\[(?P<ctime>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})\]'
    r'|[VDIWEFA]/(?P<tag>[^(:\s]+?)\(\s*\d+\):'
)
# The characters _KERNEL_PREFIX can start with.
_KERNEL_PREFIX_FIRST = frozenset('<[0123456789_.-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')
_QUOTE = _Lazy(r'[ \t]*(?:>[ \t]?)+')
_INDENT = _Lazy(r'[ \t]*')
_ANSI = _Lazy(r'(?:\x1b|#033|\\033|\\x1b|\\e)\[[0-9;]*m')
# What every _ANSI match holds; a line without them (most) skips the search, which cannot skip ahead.
_ANSI_MARKS = ('\x1b', '#033', '\\')
# Newlines inside one record as /dev/kmsg (\x0a) and rsyslog (#012) escape them.
_NEWLINE_ESCAPES = _Lazy(r'\\x0a|#012')


class Line(object):
    """A log line split: what its prefixes say, its `body` (the rest, leading whitespace kept) and the
    line as read (`raw`)."""

    __slots__ = ('wall', 'uptime', 'program', 'prefixed', 'body', 'raw')

    def __init__(self, wall, uptime, program, prefixed, body, raw):
        self.wall = wall
        self.uptime = uptime
        self.program = program
        self.prefixed = prefixed
        self.body = body
        self.raw = raw

    @property
    def time(self):
        """The time as printed: the wall clock when there is one, else the kernel's uptime."""
        return self.wall or self.uptime

    def with_body(self, body):
        return Line(self.wall, self.uptime, self.program, self.prefixed, body, self.raw)


def split_prefix(line):
    """Split one log line into its prefixes and its body (a Line)."""
    pos = 0
    if line.lstrip(' \t')[:1] == '>':
        pos = _QUOTE.match(line).end()
    wall = uptime = program = None
    prefixed = False
    for _attempt in range(8):
        if not line.startswith((' ', '\t'), pos):
            start = pos
        elif prefixed:
            start = pos + 1
        else:
            start = _INDENT.match(line, pos).end()  # pasted logs may be indented
        first = line[start:start + 1]
        match = None
        if wall is None:
            for pattern in _WALL_PREFIXES.get('0' if first.isdigit() else first if first == '<' else
                                              'A' if first.isalpha() else '', ()):
                match = pattern.match(line, start)
                if match:
                    groups = match.groupdict()
                    wall = groups['wall']
                    program = groups.get('prog') or groups.get('prog2') or program
                    break
        if match is None:
            match = _KERNEL_PREFIX.match(line, start) if first in _KERNEL_PREFIX_FIRST else None
            if match is None:
                break
            if match.group('uptime'):
                uptime = match.group('uptime')
                program = match.group('mprog') or program
            elif match.group('usec'):
                usec = int(match.group('usec'))
                uptime = '%d.%06d' % (usec // 1000000, usec % 1000000)
            elif match.group('ctime'):
                wall = wall or match.group('ctime')
            elif match.group('tag'):
                program = match.group('tag')
        prefixed = True
        pos = match.end()
    if prefixed and line.startswith((' ', '\t'), pos):
        pos += 1
    return Line(wall, uptime, program, prefixed, line[pos:], line)


# ---------------------------------------------------------------------------
# Declaring a record format: its handler with _declare, the rule its next lines follow (Wrapped or
# MultiLine) and its patterns, in its killer's section. The parser's tables are derived at the end.

_Grammar = collections.namedtuple('_Grammar', 'needles pattern handler starts standalone late')
_DECLARED = []


def _declare(needles, pattern, starts=(), standalone=True, late=None):
    """Declare the function below as a record format's handler; formats are tried in declared order.

    needles: the body must hold one before the pattern is searched. pattern: searched in the body;
    handler(parser, line, match) returns False to let the later formats try. starts: patterns (each
    beginning with a literal word) of the words the record begins with, so that a line cut shortly
    after one is joined with the next. standalone: a line of this format never continues another
    record. late: the window (KillLogParser.windows) in which its lines are read without a keyword.
    """
    def declare(handler):
        _DECLARED.append(_Grammar(needles, pattern, handler, starts, standalone, late))
        return handler
    return declare


class _Record(object):
    """A record still open to the lines that follow it. `kill` is None for context records."""

    __slots__ = ('rule', 'kill', 'text', 'prefixed', 'joins', 'lines')

    def __init__(self, rule, kill, text, prefixed, lines=None):
        self.rule = rule
        self.kill = kill
        self.text = text
        self.prefixed = prefixed
        self.joins = 0
        self.lines = kill['lines'] if kill is not None else (lines if lines is not None else [])


class Wrapped(object):
    """A one-line record that a mail client, bug tracker or terminal may have wrapped: up to three more
    lines join it, each starting with one of its `fields`, or unprefixed after the prefixed record
    while its text looks cut (ends after a separator, or not as `complete` ends a whole record).
    refill(parser, record) sets the fields again from record.text. unspaced: key=value,... without
    blanks, so every wrap is hard and the next line may start with the comma.
    """

    def __init__(self, fields, refill, complete=None, unspaced=False):
        self.fields = fields
        self.refill = refill
        self.complete = _Lazy(complete) if complete else None
        self.unspaced = unspaced
        self._next = _Lazy(r'\s*%s(?:%s)\b' % (',?' if unspaced else '', '|'.join(fields)))

    def take(self, parser, record, line):
        """Whether the line goes on with the record; if so, it is taken in."""
        after_prefixed = record.prefixed and not line.prefixed
        if record.joins >= 3 or not (self._next.match(line.body) or (after_prefixed and self.looks_wrapped(record))):
            return False
        if _stands_alone(line.body):
            return False
        record.joins += 1
        record.text = _join(record.text, line.body.strip(), hard=self.unspaced)
        _add_line(record.lines, line.raw)
        self.refill(parser, record)
        return True

    def looks_wrapped(self, record):
        """Whether the record's text stops where a wrap would cut it."""
        text = record.text
        if text.rstrip().endswith(('>', '\u2026')):
            return False  # cut short by a pager (less -S, journalctl on a terminal): nothing follows
        return _looks_cut(text) or (self.complete is not None and not self.complete.search(text))

    def cannot_take(self, record, raw):
        """Whether the record surely cannot take a line without a keyword, told before its prefix is
        split: a whole record takes only a line holding one of its fields. False when unsure."""
        if self.looks_wrapped(record) or (_holds_any(raw, _ANSI_MARKS) and _ANSI.search(raw)):
            return False
        return not (_holds_any(raw, self.fields) or _holds_any(raw, _NEEDLES))


class MultiLine(object):
    """A record printed over several lines: up to `limit` lines join it that are set apart (indented,
    or unprefixed after the prefixed record, as the journal shows continuations) or start as `more`.
    refill(parser, record) sets the fields again from record.text (lines joined by newlines). cancel:
    a next line saying that the kill did not happen.
    """

    def __init__(self, refill, more=None, limit=MAX_RECORD_LINES, cancel=None):
        self.refill = refill
        self.more = more
        self.limit = limit
        self.cancel = cancel

    def take(self, parser, record, line):
        body = line.body
        if self.cancel is not None and self.cancel.search(body):
            parser.cancel(record.kill)
            return True
        set_apart = body[:1].isspace() or (record.prefixed and not line.prefixed)
        if (record.joins >= self.limit or not (set_apart or (self.more is not None and self.more.match(body)))
                or _stands_alone(body)):
            return False
        record.joins += 1
        record.text += '\n' + body
        _add_line(record.lines, line.raw)
        self.refill(parser, record)
        return True

    @staticmethod
    def cannot_take(record, raw):
        return False  # its next lines need not hold anything in particular


# ---------------------------------------------------------------------------
# What the formats share

# Userspace killers print the victim's resident size in MiB.
_VMRSS_MIB = _Lazy(r'\bVmRSS:?\s*(?P<mib>\d+) MiB')
# How many lines after a userspace send may hold its failure (the window 'send').
_SEND_WINDOW = 3


def _number(pattern, text):
    match = pattern.search(text)
    return int(match.group(1)) if match else None


def _group(pattern, text, name):
    match = pattern.search(text)
    return match.group(name) if match else None


def _set_known(kill, **fields):
    """Set the fields found (not None), keeping what the kill had for the others."""
    kill.update((key, value) for key, value in fields.items() if value is not None)


def _add_line(lines, raw):
    if (not lines or lines[-1] is not raw) and len(lines) < MAX_RECORD_LINES:
        lines.append(raw)


def _cut_tail(text):
    """Whether the text ends shortly after the start of a record (see _CUT_TAIL)."""
    # _CUT_TAIL is tried only where one of its first words is: str.find skips ahead, the search cannot.
    for word in _CUT_TAIL_STARTS:
        start = text.find(word)
        while start >= 0:
            if (start == 0 or _CUT_TAIL_AFTER.match(text, start - 1)) and _CUT_TAIL.match(text, start):
                return True
            start = text.find(word, start + 1)
    return False


def _stands_alone(body):
    """Whether a line is a record of its own (so it cannot continue another)."""
    return is_candidate(body) and any(needle in body and pattern.search(body) for needle, pattern in _STANDALONE)


def _strip_ansi(text):
    return _ANSI.sub('', text) if _holds_any(text, _ANSI_MARKS) else text


def _holds_any(text, words):
    for word in words:
        if word in text:
            return True
    return False


def _looks_cut(text):
    """Whether a record's text stops where a wrapped line would: after a separator or inside ( or quotes."""
    text = text.rstrip()
    return (text[-1:] in (',', ':', '=', '(', ';') or text.count('(') > text.count(')')
            or text.count('"') % 2 == 1)


# A wrap without a lost blank: inside a word or number, or at a "key:" or "key=".
_HARD_WRAP_BEFORE = _Lazy(r'(?:[:=/_-]|\d)$')
_HARD_WRAP_AFTER = _Lazy(r'^(?:kB\b|\d)')


def _join(text, continuation, hard=False):
    """A record's text and the next line it was wrapped onto: a hard wrap (inside a word or number, or
    the summary, which has no blanks) joins as is, a soft wrap (at a blank) with one blank."""
    text = text.rstrip()
    hard = (hard or continuation[:1] in (':', '=', ',')
            or (_HARD_WRAP_BEFORE.search(text) and _HARD_WRAP_AFTER.search(continuation)))
    return text + ('' if hard else ' ') + continuation


def _mib_to_kb(mib):
    return None if mib is None else mib * 1024


class KillLogParser(object):
    """The state machine behind parse_lines and scan_chunks.

    feed(line) returns the kills that became final; close() returns the rest. `follow` is how many of
    the next lines the parser wants to see even when they hold no keyword. The formats' handlers use
    new_kill, start, hold, cancel, lines_back, `held`, `state` and `windows`.
    """

    def __init__(self, page_size=4096, source=None):
        self.page_size = page_size
        self.source = source
        self.follow = 0
        self.held = collections.deque()  # kills that late lines (oom_reaper, a failed send...) may still reach
        self.state = collections.defaultdict(dict)  # killer: what its formats remember between lines
        # window: lines left open, counting the one that opened it (see _declare's late)
        self.windows = {}
        self._open = None            # a _Record the next line may continue
        self._orphan = None          # a Line with a keyword that no format matched (yet)
        self._history = ()           # the lines before the current one (see LOOKBACK)
        self._out = []

    # -- driving ----------------------------------------------------------

    def feed(self, line, history=(), candidate=None):
        """Take the next line (or the next line the parser asked to follow).

        history: the up to LOOKBACK lines just before it, oldest first, or a callable returning them;
        it is only read for the few records printed after their details (nohang).
        candidate: whether is_candidate(line), when the caller already knows.
        """
        self._history = history
        if isinstance(line, bytes):
            line = line.decode('utf-8', 'replace')
        raw = line.rstrip('\r\n')
        self.follow = max(0, self.follow - 1)
        self._tick()
        if candidate is None:
            candidate = _CANDIDATE.search(raw) is not None
        if (self._open is not None and self._orphan is None and not candidate
                and self._open.rule.cannot_take(self._open, raw)):
            self._open = None  # as _line would find, at a fraction of the cost
        if self._open is None and self._orphan is None and not self._needs_parsing(raw, candidate):
            self._set_follow()
            if self.follow:
                return []
            out, self._out = self._out + list(self.held), []
            self.held.clear()
            return out
        split = split_prefix(raw)
        if '\\x0a' in split.body or '#012' in split.body:
            segments = _NEWLINE_ESCAPES.split(split.body)
            self._line(split.with_body(segments[0]))
            for segment in segments[1:]:
                self._line(Line(split.wall, split.uptime, split.program, False, segment, raw))
        else:
            self._line(split)
        self._set_follow()
        if not self.follow:
            # nothing can reach the held kills any more
            self._out.extend(self.held)
            self.held.clear()
        out, self._out = self._out, []
        return out

    def _needs_parsing(self, raw, candidate):
        """Whether a line needs parsing when no record is open: a keyword line that a format may match
        (or that may be cut), or a line of a late format in its window."""
        if candidate and (_holds_any(raw, _NEEDLES) or _cut_tail(raw)):
            return True
        if self.windows:
            for window, needles in _LATE:
                if window in self.windows and _holds_any(raw, needles):
                    return True
        return False

    def close(self):
        self._open = None
        self._orphan = None
        while self.held:
            self._out.append(self.held.popleft())
        out, self._out = self._out, []
        return out

    def _tick(self):
        if not self.windows:
            return
        for window in list(self.windows):
            self.windows[window] -= 1
            if not self.windows[window]:
                del self.windows[window]

    def _set_follow(self):
        wanted = 1 if self._open is not None or self._orphan is not None else 0
        for left in self.windows.values():
            wanted = max(wanted, left)
        self.follow = max(self.follow, wanted)

    # -- what the formats' handlers use -----------------------------------------

    def new_kill(self, killer, line, pid=None, comm=None):
        """A kill dict (KILL_FIELDS) from this line."""
        return {
            'time': line.time, 'killer': killer, 'pid': pid, 'comm': comm, 'adj': None,
            'rss_kb': None, 'signal': None, 'cgroup': None, 'uid': None, 'trigger': None, 'action': None,
            'source': self.source, 'lines': [line.raw],
        }

    def start(self, rule, kill, line, text, lines=None):
        """Hold the kill (None: a context record) and open a record that the next lines may go on with,
        as `rule` (a Wrapped or a MultiLine) says. True, for the handler to return."""
        if kill is not None:
            self.hold(kill)
        self._open = _Record(rule, kill, text, line.prefixed, lines)
        return True

    def hold(self, kill):
        self.held.append(kill)
        if len(self.held) > _HELD_KILLS:
            self._out.append(self.held.popleft())

    def cancel(self, kill):
        for index, held in enumerate(self.held):
            if held is kill:
                del self.held[index]
                return

    def lines_back(self, count=LOOKBACK):
        """The up to `count` (at most LOOKBACK) lines before the current one, oldest first, as text."""
        history = self._history(count) if callable(self._history) else list(self._history)[-count:]
        return [line.decode('utf-8', 'replace') if isinstance(line, bytes) else line for line in history]

    # -- one logical line ---------------------------------------------------

    def _line(self, line):
        body = _strip_ansi(line.body)
        if body is not line.body:
            line = line.with_body(body)
        record, self._open = self._open, None
        if record is not None and self._continues(record, line):
            if self._open is None:
                self._open = record
            return
        orphan, self._orphan = self._orphan, None
        if self._dispatch(line):
            return
        if orphan is not None and (not line.prefixed or not orphan.prefixed):
            if self._dispatch(orphan.with_body(orphan.body.rstrip() + ' ' + body.strip()), line.raw):
                return
        if is_candidate(line.body) and _cut_tail(line.body):
            self._orphan = line

    def _continues(self, record, line):
        """Whether this line goes on with the open record; if so, take it in."""
        if not line.body.strip() or record.joins >= MAX_RECORD_LINES:
            return False
        return record.rule.take(self, record, line)

    def _dispatch(self, line, extra_raw=None):
        """Match one line against the record formats. True when it was a known record."""
        held_before = self.held[-1] if self.held else None
        if not self._match(line):
            return False
        if extra_raw is not None:
            if self._open is not None:
                _add_line(self._open.lines, extra_raw)
            elif self.held and self.held[-1] is not held_before:
                _add_line(self.held[-1]['lines'], extra_raw)
        return True

    def _match(self, line):
        body = line.body
        for needle, pattern, handler in _GRAMMARS:
            if needle in body:
                match = pattern.search(body)
                if match and handler(self, line, match):
                    return True
        return False


# ---------------------------------------------------------------------------
# lowmemorykiller: "send sigkill to PID (COMM), adj N, size PAGES" (2.6 to 4.4); "Killing 'COMM' (PID),
# adj N," then "to free NkB ..." lines (4.9 and vendors; Android 8 and 9 lmkd add a uid)

_LMK_SEND = _Lazy(r'send sigkill to (?P<pid>\d+)\b')
_LMK_SEND_COMM = _Lazy(r'\s*\((?P<comm>.*)\), adj|\s*\((?P<comm2>[^)]*)\)')
_LMK_SIZE = _Lazy(r'\bsize (?P<size>\d+)(?P<unit>\s*Byte|\s*kB)?')
_LMK_SEND_RECORD = Wrapped(('adj', 'size'), complete=r'size \d+(?:\s*Byte\(s\)|\s*kB)?\s*$',
                           refill=lambda parser, record: _lmk_send_fields(record.kill, record.text, parser.page_size))
_KILLING = _Lazy(r"Killing '(?P<comm>.*?)' \((?P<pid>\d+)\)(?: \(tgid (?P<tgid>\d+)\))?,(?: uid (?P<uid>\d+))?")
_SCORE_ADJ = _Lazy(r'\b(?:oom_)?score_adj:?\s*(?P<adj>-?\d+)')
_ADJ = _Lazy(r'\badj:?\s*(?P<adj>-?\d+)')
_TO_FREE = _Lazy(r'\bto free (?P<kb>\d+)\s*kB')
# What made it kill: the kernel driver and lmkd before Android 9 print the cache below a threshold, lmkd
# of Android 8 the memory pressure level.
_KILLING_TRIGGER = _Lazy(r'\b(?:cache \d+\s*kB is below limit \d+\s*kB for oom_(?:score_)?adj -?\d+'
                         r'|system is under \w+ memory pressure(?: oom_adj -?\d+| \(min_oom_adj=-?\d+\))?)')
# lmkd says "to free NkB because ..."; the kernel driver "to free NkB on behalf of 'COMM' (PID) because".
_LMKD_BECAUSE = _Lazy(r'\bto free \d+\s*kB because')
_KILLING_RECORD = MultiLine(lambda parser, record: _killing_fields(record.kill, record.text),
                            more=_Lazy(r'\s*(?:to free|cache |Free |Total |GFP |is_kswapd|Slab |swap|file |reclaim)'))


def _lmk_send_fields(kill, text, page_size):
    comm = _LMK_SEND_COMM.match(text)
    rest = text
    if comm:
        kill['comm'] = comm.group('comm') if comm.group('comm') is not None else comm.group('comm2')
        rest = text[comm.end('comm') + 1 if comm.group('comm') is not None else comm.end():]
    adj = _ADJ.search(rest)
    kill['adj'] = int(adj.group('adj')) if adj else None
    size = _LMK_SIZE.search(rest)
    if size:
        amount = int(size.group('size'))
        unit = (size.group('unit') or '').strip()
        kill['rss_kb'] = {'Byte': amount // 1024, 'kB': amount}.get(unit, amount * page_size // 1024)  # else pages


@_declare(('sigkill',), _LMK_SEND, starts=('send sigkill',))
def _on_lmk_send(parser, line, match):
    kill = parser.new_kill('lowmemorykiller', line, pid=int(match.group('pid')))
    kill['signal'] = 'SIGKILL'
    text = line.body[match.end():]
    _lmk_send_fields(kill, text, parser.page_size)
    return parser.start(_LMK_SEND_RECORD, kill, line, text)


def _killing_fields(kill, text):
    """The fields of a "Killing" record's later lines, from its text so far."""
    _set_known(kill, rss_kb=_number(_TO_FREE, text), trigger=_group(_KILLING_TRIGGER, text, 0))
    if kill['killer'] != 'lmkd' and _LMKD_BECAUSE.search(text):
        kill['killer'] = 'lmkd'  # lmkd of Android 4.4 to 7 prints no uid


@_declare(("Killing '",), _KILLING, starts=('Killing',))
def _on_killing(parser, line, match):
    pid = match.group('tgid') or match.group('pid')
    uid = match.group('uid')
    kill = parser.new_kill('lmkd' if uid else 'lowmemorykiller', line, pid=int(pid), comm=match.group('comm'))
    kill['uid'] = int(uid) if uid else None
    # The victim's adj is on the first line; "for oom_score_adj N" further on is the threshold's.
    header = line.body[match.end():].split(' to free ')[0]
    adj = _SCORE_ADJ.search(header) or _ADJ.search(header)
    kill['adj'] = int(adj.group('adj')) if adj else None
    _killing_fields(kill, line.body)
    return parser.start(_KILLING_RECORD, kill, line, line.body)


# ---------------------------------------------------------------------------
# Android lmkd (9 and later): "Kill 'COMM' (PID), uid N, oom_adj N to free NkB[; reason: ...]" (oom_score_adj
# and "kB rss, NkB swap" from Android 12); lmkd of Android 9 and 10 printed what triggered a round of kills
# after it: "Reclaimed NkB, cache(NkB) and free(NkB)-reserved(NkB) below min(NkB) for oom_adj N".

_LMKD_KILL = _Lazy(r"\bKill '(?P<comm>.*?)' \((?P<pid>\d+)\), uid (?P<uid>\d+), (?:oom_score_adj|oom_adj) (?P<adj>-?\d+)")
_LMKD_REASON = _Lazy(r';\s*reason:\s*(?P<reason>.*?)\s*$')
_LMKD_RECORD = Wrapped(('to free', 'reason'), refill=lambda parser, record: _lmkd_fields(record.kill, record.text))
_LMKD_RECLAIMED = _Lazy(r'\b(?:Reclaimed|Killing to reclaim \d+\s*kB, reclaimed) \d+\s*kB, (?P<why>cache\(.*\) below min\(.*)$')
# How many lines after lmkd's last kill may hold its "Reclaimed" line (the window 'lmkd').
_RECLAIMED_WINDOW = 4


def _lmkd_fields(kill, text):
    _set_known(kill, rss_kb=_number(_TO_FREE, text), trigger=_group(_LMKD_REASON, text, 'reason'))


@_declare(("Kill '",), _LMKD_KILL, starts=('Kill',))
def _on_lmkd(parser, line, match):
    kill = parser.new_kill('lmkd', line, pid=int(match.group('pid')), comm=match.group('comm'))
    kill['adj'] = int(match.group('adj'))
    kill['uid'] = int(match.group('uid'))
    _lmkd_fields(kill, line.body)
    if kill['trigger'] is None:
        parser.windows['lmkd'] = _RECLAIMED_WINDOW  # lmkd of Android 9 and 10 says why after the kills
    return parser.start(_LMKD_RECORD, kill, line, line.body)


@_declare(('eclaim',), _LMKD_RECLAIMED, standalone=False, late='lmkd')
def _on_lmkd_reclaimed(parser, line, match):
    """The trigger of the kills just before it that printed none (the kills of one round)."""
    for kill in reversed(parser.held):
        if kill['killer'] != 'lmkd' or kill['trigger'] is not None:
            break
        kill['trigger'] = match.group('why')
        _add_line(kill['lines'], line.raw)
    return True


# ---------------------------------------------------------------------------
# The kernel OOM killer: "Killed process PID (COMM) ..." and "Kill process PID (COMM) sharing same memory";
# the OOM event's other lines (summary, memory cgroup, then oom_reaper) add to them. parser.state['oom']
# is the OOM event being printed: {memcg, summary, task_in, limit, message, killer}, when known.

_OOM_KILLED = _Lazy(r'Killed process (?P<pid>\d+)\b')
# RHEL 6 (2.6.32) prints the uid before the name: "Killed process PID, UID N, (COMM) total-vm:..."
_OOM_COMM = _Lazy(r'(?:, UID (?P<uid>\d+),)? \((?P<comm>.*?)\)(?=[.,]?(?:\s|$))')
_OOM_UID = _Lazy(r'\bUID:\s*(\d+)')
_OOM_SCORE_ADJ = _Lazy(r'\boom_score_adj:\s*(-?\d+)')
_OOM_RSS = tuple(_Lazy(r'\b%s:\s*(?P<kb>\d+)\s*kB' % name) for name in ('anon-rss', 'file-rss', 'shmem-rss'))
_OOM_KILLED_RECORD = Wrapped(
    ('total-vm', 'vsz', 'anon-rss', 'file-rss', 'shmem-rss', 'UID', 'pgtables', 'oom_score_adj'),
    complete=r'(?:(?:file|shmem)-rss:\s*\d+\s*kB|oom_score_adj:\s*-?\d+|\))\.?\s*$',
    refill=lambda parser, record: _oom_fields(record.kill, record.text))
# How many lines after an OOM kill may still hold its oom_reaper line (the window 'oom-kill').
_REAPER_WINDOW = 8
_OOM_SHARING = _Lazy(r'Kill process (?P<pid>\d+) \((?P<comm>.*)\) sharing same memory')
_OOM_CANDIDATE = _Lazy(r'[Kk]ill process \d+ \(.*\) (?:with )?score -?\d+')
_OOM_SUMMARY = _Lazy(r'oom-kill:(?P<fields>\S.*)')
_SUMMARY_TASK = _Lazy(r',task=(?P<comm>.*),pid=(?P<pid>\d+)(?:,uid=(?P<uid>\d+))?')
_SUMMARY_RECORD = Wrapped(
    ('nodemask', 'cpuset', 'mems_allowed', 'global_oom', 'oom_memcg', 'task_memcg', 'task', 'pid', 'uid'),
    complete=r'uid=\d+\s*$', unspaced=True,
    refill=lambda parser, record: parser.state['oom'].update(summary=dict(_summary_fields(record.text), lines=record.lines)))
_OOM_TASK_IN = _Lazy(r'Task in (?P<cgroup>\S+) killed as a result of limit of (?P<limit>\S+)')
_OOM_INVOKED = _Lazy(r'invoked oom-killer')
_OOM_REAPER = _Lazy(r'oom_reaper: reaped process (?P<pid>\d+)\b')


def _oom_fields(kill, text):
    comm = _OOM_COMM.match(text)
    if comm:
        kill['comm'] = comm.group('comm')
    anon, file_rss, shmem = [_number(pattern, text) for pattern in _OOM_RSS]
    if anon is not None and file_rss is not None:
        kill['rss_kb'] = anon + file_rss + (shmem or 0)
    kill['adj'] = _number(_OOM_SCORE_ADJ, text)
    uid = comm.group('uid') if comm else None
    _set_known(kill, uid=int(uid) if uid else _number(_OOM_UID, text))


def _summary_fields(text):
    summary = {}
    for key in ('constraint', 'oom_memcg', 'task_memcg'):
        match = re.search(r'(?:^|,)%s=([^,]*)' % key, text)
        if match:
            summary[key] = match.group(1)
    task = _SUMMARY_TASK.search(text)
    if task:
        summary['comm'] = task.group('comm')
        summary['pid'] = int(task.group('pid'))
        summary['uid'] = int(task.group('uid')) if task.group('uid') else None
    summary['cgroup'] = summary.get('task_memcg') or None
    return summary


def _oom_message(text):
    """The kernel's reason printed before a kill or a candidate ("Out of memory", "Memory cgroup out of
    memory", "No available memory (MPOL_BIND)"...), or None."""
    message = text.strip().rstrip(':').strip().rpartition(': ')[2]
    return message if 'emory' in message else None


def _oom_trigger(message, event, summary):
    """What made the kernel kill: its message, with the constraint of the oom-kill summary (4.19 and
    later) or the limit of the memory cgroup (earlier kernels) when they were printed."""
    details = []
    if summary.get('constraint'):
        details.append('constraint=' + summary['constraint'])
        if summary.get('oom_memcg'):
            details.append('oom_memcg=' + summary['oom_memcg'])
    elif event.get('limit'):
        details.append('limit of ' + event['limit'])
    message = message or event.get('message')
    if details:
        return '%s (%s)' % (message, ', '.join(details)) if message else ', '.join(details)
    return message


@_declare(('Killed process',), _OOM_KILLED, starts=('Killed',))
def _on_oom_killed(parser, line, match):
    event = parser.state['oom']
    summary = event.get('summary') or {}
    pid = int(match.group('pid'))
    memcg = ('Memory cgroup' in line.body[:match.start()] or event.get('memcg') or 'task_in' in event
             or summary.get('constraint') == 'CONSTRAINT_MEMCG')
    killer = 'cgroup-oom' if memcg else 'oom-killer'
    kill = parser.new_kill(killer, line, pid=pid)
    if summary.get('pid') != pid:
        summary = {}
    else:
        kill['lines'][:0] = summary['lines'][:MAX_RECORD_LINES // 2]
        kill['cgroup'] = summary.get('cgroup')
        kill['uid'] = summary.get('uid')
    kill['cgroup'] = kill['cgroup'] or event.get('task_in')
    text = line.body[match.end():]
    _oom_fields(kill, text)
    if kill['comm'] is None:
        kill['comm'] = summary.get('comm')
    kill['trigger'] = _oom_trigger(_oom_message(line.body[:match.start()]), event, summary)
    parser.state['oom'] = {'killer': killer, 'trigger': kill['trigger']}
    parser.windows['oom-kill'] = _REAPER_WINDOW
    return parser.start(_OOM_KILLED_RECORD, kill, line, text)


@_declare(('sharing same memory',), _OOM_SHARING, starts=('Kill',))
def _on_sharing(parser, line, match):
    event = parser.state['oom']
    kill = parser.new_kill(event.get('killer', 'oom-killer'), line, pid=int(match.group('pid')), comm=match.group('comm'))
    kill['trigger'] = event.get('trigger')
    parser.hold(kill)
    return True


@_declare(('ill process',), _OOM_CANDIDATE, starts=('Kill', 'kill'))
def _on_candidate(parser, line, match):
    event = parser.state['oom']
    if 'Memory cgroup' in line.body:
        event['memcg'] = True
    event['message'] = _oom_message(line.body[:match.start()]) or event.get('message')
    return True


@_declare(('oom-kill:',), _OOM_SUMMARY)
def _on_summary(parser, line, match):
    lines = [line.raw]
    parser.state['oom']['summary'] = dict(_summary_fields(match.group('fields')), lines=lines)
    return parser.start(_SUMMARY_RECORD, None, line, match.group('fields'), lines)


@_declare(('killed as a result',), _OOM_TASK_IN, starts=('killed',))
def _on_task_in(parser, line, match):
    parser.state['oom']['task_in'] = match.group('cgroup')
    parser.state['oom']['limit'] = match.group('limit')
    return True


@_declare(('invoked oom-killer',), _OOM_INVOKED)
def _on_invoked(parser, line, match):
    parser.state['oom'] = {}
    return True


@_declare(('oom_reaper',), _OOM_REAPER, standalone=False, late='oom-kill')
def _on_reaper(parser, line, match):
    pid = int(match.group('pid'))
    for kill in reversed(parser.held):
        if kill['pid'] == pid and kill['killer'] in ('oom-killer', 'cgroup-oom'):
            _add_line(kill['lines'], line.raw)
            break
    return True


# ---------------------------------------------------------------------------
# earlyoom: 'sending SIGTERM to process PID uid N "COMM": ...' (1.3 on), older "Killing process ..." forms,
# "escalating to SIGKILL", and a send that failed or was a dry run. parser.state['earlyoom']['last'] is
# the last kill, which these two lines are about.

_EARLYOOM_SEND = _Lazy(r'\bsending (?P<signal>SIG[A-Z0-9]+|\d+ \(no-op signal\)) to process (?P<pid>\d+)'
                       r'(?: uid (?P<uid>\d+))? "(?P<rest>.*)')
_EARLYOOM_COMM = _Lazy(r'(?P<comm>.*?)": (?=badness|oom_score)|(?P<comm2>.*)"')
_EARLYOOM_ADJ = _Lazy(r'\boom_score_adj (-?\d+)')
_EARLYOOM_RECORD = Wrapped(
    ('badness', 'oom_score', 'oom_score_adj', 'VmRSS', 'cmdline'), complete=r'(?:cmdline ".*"|VmRSS \d+ MiB)\s*$',
    refill=lambda parser, record: _earlyoom_fields(record.kill, record.text))
_EARLYOOM_V12 = _Lazy(r"Killing process '(?P<comm>.*)' with signal (?P<signal>\d+), pid: (?P<pid>\d+)")
_EARLYOOM_V11 = _Lazy(r'Killing process: (?P<comm>.*), pid: (?P<pid>\d+), badness')
_EARLYOOM_OLD = _Lazy(r'[Kk]illing process\b')
_EARLYOOM_V13RC = _Lazy(r'killing process (?P<pid>\d+) "(?P<comm>.*)" with signal (?P<signal>\d+)')
_EARLYOOM_V0 = _Lazy(r'^Killing process (?P<pid>\d+) (?P<comm>\S.*?)\s*$')
_EARLYOOM_ESCALATE = _Lazy(r'escalating to (?P<signal>SIG[A-Z]+) after')
# The line printed just before a kill with what made earlyoom act: "low memory! at or below SIGTERM limits:
# mem N%, swap N%" (1.3 on), "Low memory! At or below sigterm limits (mem: N %, swap: N %)" (1.2), "Out of
# memory! mem min: N MiB, swap min: N MiB" (1.1), "Out of memory! avail: N MiB < min: N MiB" (0.6 to 1.0).
_EARLYOOM_TRIGGER = _Lazy(r'(?:[Ll]ow [Mm]emory|Out of memory)! (?P<why>.*?)\s*$')
# How far back it may be (debug output can come between), and what the lines of earlier kills hold: the
# trigger line before one is that kill's.
_EARLYOOM_TRIGGER_LINES = 8
_EARLYOOM_KILL_WORDS = ('sending SIG', 'illing process', 'escalating to')
# -g: the signal goes to the victim's whole process group (1.7 on), printed after the send.
_EARLYOOM_GROUP = _Lazy(r'killing whole process group (?P<pgid>\d+)')
# No signal went out: a dry run, or kill(2) refused (EPERM) or found no process (ESRCH). "kill failed: Timer
# expired" means the signal went out but the process did not exit in time.
_EARLYOOM_FAILED = _Lazy(r'dryrun, not actually sending|\bkill(?:\(\))? failed.*(?:not permitted|No such process)')


def _earlyoom_fields(kill, rest):
    comm = _EARLYOOM_COMM.match(rest)
    if comm:
        kill['comm'] = comm.group('comm') if comm.group('comm') is not None else comm.group('comm2')
    kill['rss_kb'] = _mib_to_kb(_number(_VMRSS_MIB, rest))
    kill['adj'] = _number(_EARLYOOM_ADJ, rest)


def _earlyoom_trigger(parser, line):
    """What made earlyoom act, from the line it printed just before the kill (None when not there)."""
    for before in reversed(parser.lines_back(_EARLYOOM_TRIGGER_LINES)):
        if 'emory!' in before:
            prefix = split_prefix(before)
            match = _EARLYOOM_TRIGGER.search(prefix.body)
            if match and prefix.program in (None, line.program):
                return match.group('why')
        if _holds_any(before, _EARLYOOM_KILL_WORDS):
            return None
    return None


def _earlyoom_sent(parser, kill, line, text):
    kill['trigger'] = _earlyoom_trigger(parser, line)
    parser.state['earlyoom']['last'] = kill
    parser.windows['send'] = _SEND_WINDOW
    return parser.start(_EARLYOOM_RECORD, kill, line, text)


@_declare(('sending ',), _EARLYOOM_SEND, starts=('sending',))
def _on_earlyoom_send(parser, line, match):
    signal = match.group('signal')
    if not signal.startswith('SIG'):
        return True  # earlyoom's start-up self-test "sends" signal 0
    kill = parser.new_kill('earlyoom', line, pid=int(match.group('pid')))
    kill['signal'] = signal
    kill['uid'] = int(match.group('uid')) if match.group('uid') else None
    _earlyoom_fields(kill, match.group('rest'))
    return _earlyoom_sent(parser, kill, line, match.group('rest'))


@_declare(('illing process',), _EARLYOOM_OLD, starts=('Killing', 'killing'), standalone=False)
def _on_earlyoom_old(parser, line, match):
    """earlyoom 1.3-rc, 1.2, 1.1 and 0.x (the last only when the line is earlyoom's: systemd says
    "Killing process" too)."""
    body = line.body
    match = _EARLYOOM_V13RC.search(body) or _EARLYOOM_V12.search(body) or _EARLYOOM_V11.search(body)
    if match is None and line.program in (None, 'earlyoom') and ' with signal ' not in body:
        match = _EARLYOOM_V0.match(body.strip())
    if match is None:
        return False
    comm = match.group('comm')
    if comm.startswith('(') and comm.endswith(')'):
        comm = comm[1:-1]
    kill = parser.new_kill('earlyoom', line, pid=int(match.group('pid')), comm=comm)
    if 'signal' in match.groupdict():
        kill['signal'] = _SIGNALS.get(int(match.group('signal')), match.group('signal'))
    kill['rss_kb'] = _mib_to_kb(_number(_VMRSS_MIB, body))
    return _earlyoom_sent(parser, kill, line, body)


@_declare(('escalating to',), _EARLYOOM_ESCALATE, starts=('SIG[A-Z]*',))
def _on_escalate(parser, line, match):
    last = parser.state['earlyoom'].get('last')
    if last is not None:
        escalated = dict(last, time=line.time, signal=match.group('signal'), lines=[line.raw])
        _earlyoom_sent(parser, escalated, line, '')
        escalated['trigger'] = last['trigger']  # the escalation is the same low-memory event's
    return True


@_declare(('whole process group',), _EARLYOOM_GROUP, standalone=False)
def _on_process_group(parser, line, match):
    last = parser.state['earlyoom'].get('last')
    if last is not None and 'send' in parser.windows:
        last['action'] = 'process group ' + match.group('pgid')
        _add_line(last['lines'], line.raw)
    return True


@_declare(('failed', 'dryrun'), _EARLYOOM_FAILED, starts=('kill',), standalone=False, late='send')
def _on_send_failed(parser, line, match):
    last = parser.state['earlyoom'].get('last')
    if last is not None and 'send' in parser.windows:
        parser.cancel(last)
        parser.state['earlyoom']['last'] = None
    return True


# ---------------------------------------------------------------------------
# systemd-oomd: "Killed CGROUP due to memory pressure ..." or "Marked CGROUP for killing due to ...",
# after "oomd attempting to kill PID with KILL" lines

_OOMD = _Lazy(r'\b(?:Killed|Marked) (?P<cgroup>/\S*) (?:for killing )?due to (?P<why>(?:memory|swap).*?)\s*$')
_OOMD_RECORD = Wrapped(('due to', 'for', 'being', 'with'), complete=r'(?:activity|%)\s*$',
                       refill=lambda parser, record: _oomd_fields(record.kill, record.text))
_OOMD_ATTEMPT = _Lazy(r'oomd attempting to kill (?P<pid>\d+) with')


def _oomd_fields(kill, text):
    match = _OOMD.search(text)
    if match:
        kill['cgroup'] = match.group('cgroup')
        kill['trigger'] = match.group('why')


@_declare(('due to',), _OOMD, starts=('Killed', 'Marked'))
def _on_oomd(parser, line, match):
    kill = parser.new_kill('systemd-oomd', line)
    _oomd_fields(kill, line.body)
    attempts = []
    for before in reversed(parser.lines_back()):
        if 'due to' in before and _OOMD.search(before):
            break  # the lines before an earlier record are that record's
        attempt = _OOMD_ATTEMPT.search(before) if 'oomd attempting' in before else None
        if attempt and split_prefix(before).program in (None, line.program):
            attempts.insert(0, (int(attempt.group('pid')), before))
    if len(set(pid for pid, _text in attempts)) == 1:
        kill['pid'] = attempts[0][0]
    kill['lines'][:0] = [text for _pid, text in attempts][:MAX_RECORD_LINES - 1]
    return parser.start(_OOMD_RECORD, kill, line, line.body)


# ---------------------------------------------------------------------------
# nohang: an action after a victim block, a header and a field or a few per line, printed just before it.
# The action sends a signal ("Sending SIGTERM to the victim"; in 2019 "Send SIGTERM to the victim; ...") or
# runs a command on the victim ("Executing the command: CMD"; earlier "Run the command: CMD", "Execute the
# command: CMD", "Execute command: CMD"). Before the block, the thresholds that made nohang act
# ("MemAvailable [...] <= soft_threshold_min_mem [...]"). Its first version (June 2018) printed "Preventing
# OOM: trying to send the SIGTERM signal to COMM," with "Pid: N, ..." on the next line.

_NOHANG_SEND = _Lazy(r'\bSend(?:ing)? (?P<signal>SIG[A-Z]+) to the victim')
_NOHANG_COMMAND = _Lazy(r'\b(?:Execut(?:e|ing)(?: the)? command|Run the command): (?P<command>\S.*?)\s*$')
_NOHANG_ACTION = _Lazy(_NOHANG_SEND.pattern + '|' + _NOHANG_COMMAND.pattern)
_NOHANG_VICTIM = _Lazy(r'Victim (?:status|information) \(found in|Found (?:a|the) (?:process|victim) with highest badness'
                       r'|Finding the process with the highest badness|\bVictim is |\bis a victim,')
# (field, the strings a match holds: a line without one skips the search, which \b keeps from skipping ahead, pattern)
_NOHANG_FIELDS = (
    ('pid', ('PID:', 'Pid:', 'pid:'), _Lazy(r'\b(?:PID|Pid|pid):\s*(?P<v>\d+)')),
    ('comm', ('ame:',), _Lazy(r'\b[Nn]ame:\s*(?P<v>.*?)(?:, (?:state|badness):|$)')),
    ('comm', ('Victim is ',), _Lazy(r'\bVictim is (?P<v>.*?), pid:')),
    ('comm', ('is a victim',), _Lazy(r'\bProcess (?P<v>.*?) is a victim,')),
    ('uid', ('UID:', 'Uid:'), _Lazy(r'\bE?(?:UID|Uid):\s*(?P<v>\d+)')),
    ('adj', ('oom_score_adj:',), _Lazy(r'\boom_score_adj:\s*(?P<v>-?\d+)')),
    ('rss_mib', ('RSS:',), _Lazy(r'\b(?:VmRSS|RSS):\s*(?P<v>\d+)')),
    ('cgroup_v2', ('cgroup_v2:', 'CGroup_v2:'), _Lazy(r'\b(?:cgroup_v2|CGroup_v2):\s*(?P<v>\S+)')),
    ('cgroup_v1', ('cgroup_v1:', 'CGroup_v1:', 'CGroup:'), _Lazy(r'\b(?:cgroup_v1|CGroup_v1|CGroup):\s*(?P<v>\S+)')),
)
_NOHANG_NUMBERS = ('pid', 'uid', 'adj', 'rss_mib')
# What a victim header or an action line holds, and what a threshold line does (cheap tests before a split).
_NOHANG_MARKS = ('ictim', 'badness', 'command: ')
_NOHANG_COMPARISONS = (' <= ', ' >= ', ' > ')
# A threshold crossed: "MemAvailable [N MiB, N %] <= soft_threshold_min_mem [N MiB, N %]" (2019 on), "...
# <= mem_min_sigterm [...]" (2018), "PSI avg (N) > sigkill_psi_threshold (N)", "MemUsedZram [...] >= ...".
_NOHANG_THRESHOLD = _Lazy(r'^\s*(?P<t>\S.*?\s(?:<=|>=|>)\s\w*(?:threshold|_min_|_max_)\w*\s*[\[(].*?[\])])\s*$')
_NOHANG_2018 = _Lazy(r'Preventing OOM: trying to send the (?P<signal>SIG[A-Z]+) signal to '
                     r'(?:blacklisted process )?(?P<comm>.*?),(?:\s*Pid: (?P<pid>\d+))?')
_NOHANG_PID = _Lazy(r'\bPid: (\d+)')
_NOHANG_FAILED = _Lazy(r'died before corrective action|Cannot send a signal|[Nn]o such process|Cannot execute the command')
# The action's next lines say whether it failed; the 2018 form's give the victim's fields, the last one's win.
_NOHANG_RECORD = MultiLine(lambda parser, record: _nohang_2018_fields(record.kill, record.text.rpartition('\n')[2]),
                           limit=3, cancel=_NOHANG_FAILED)


def _nohang_lines(parser, action):
    """The lines before an action, oldest first, as (raw, split): split is None for a line of another
    program, else the line split (ANSI colours removed) when first needed (_nohang_split)."""
    return [[text, False] for text in parser.lines_back()], action.program


def _nohang_split(entry, program):
    """The split line of a history entry (see _nohang_lines), None when another program printed it."""
    if entry[1] is False:
        line = split_prefix(entry[0])
        entry[1] = None if program and line.program not in (None, program) else line.with_body(_strip_ansi(line.body))
    return entry[1]


def _nohang_context(parser, action):
    """(victim, trigger) of an action: victim is {field: value, 'lines': [...]} from the victim block
    just before it (None when there is none), trigger the thresholds printed before the block."""
    history, program = _nohang_lines(parser, action)
    start = None
    for index in range(len(history) - 1, -1, -1):
        text = history[index][0]
        if not _holds_any(text, _NOHANG_MARKS):
            continue  # cheap test before the prefix is split
        line = _nohang_split(history[index], program)
        if line is None:
            continue
        if _NOHANG_ACTION.search(line.body):
            break  # the block before an earlier action is that action's
        if _NOHANG_VICTIM.search(line.body):
            start = index
            break
    if start is None:
        return None, None
    victim = {'lines': []}
    for entry in history[start:]:
        line = _nohang_split(entry, program)
        if line is None:
            continue
        victim['lines'].append(line.raw)
        for key, needles, pattern in _NOHANG_FIELDS:
            if key in victim or not _holds_any(line.body, needles):
                continue  # the first line with a field gives it
            match = pattern.search(line.body)
            if match:
                value = match.group('v').strip()
                victim[key] = int(value) if key in _NOHANG_NUMBERS else value
    return victim, _nohang_trigger(history[:start], program)


def _nohang_trigger(history, program):
    """The thresholds crossed, from the last run of threshold lines in history (joined by '; '), or None."""
    found = []
    for entry in reversed(history):
        threshold = _holds_any(entry[0], _NOHANG_COMPARISONS)
        line = _nohang_split(entry, program) if threshold or _holds_any(entry[0], _NOHANG_MARKS) else None
        match = _NOHANG_THRESHOLD.match(line.body) if threshold and line is not None else None
        if match:
            found.insert(0, match.group('t'))
        elif found or (line is not None and _NOHANG_ACTION.search(line.body)):
            break
    return '; '.join(found) or None


def _nohang_kill(parser, line, victim, trigger):
    victim = victim or {'lines': []}
    kill = parser.new_kill('nohang', line, pid=victim.get('pid'), comm=victim.get('comm'))
    kill['lines'][:0] = victim['lines'][:MAX_RECORD_LINES - 1]
    kill['adj'] = victim.get('adj')
    kill['uid'] = victim.get('uid')
    kill['rss_kb'] = _mib_to_kb(victim.get('rss_mib'))
    kill['cgroup'] = victim.get('cgroup_v2') or victim.get('cgroup_v1')
    kill['trigger'] = trigger
    parser.windows['send'] = _SEND_WINDOW
    return kill


def _nohang_2018_fields(kill, text):
    _set_known(kill, pid=_number(_NOHANG_PID, text), rss_kb=_mib_to_kb(_number(_VMRSS_MIB, text)))


@_declare(('to the victim',), _NOHANG_SEND, starts=('Send(?:ing)?', 'SIG[A-Z]*'))
def _on_nohang_send(parser, line, match):
    if _NOHANG_FAILED.search(line.body):
        return True
    victim, trigger = _nohang_context(parser, line)
    kill = _nohang_kill(parser, line, victim, trigger)
    kill['signal'] = match.group('signal')
    return parser.start(_NOHANG_RECORD, kill, line, line.body)


@_declare(('command: ',), _NOHANG_COMMAND)
def _on_nohang_command(parser, line, match):
    victim, trigger = _nohang_context(parser, line)
    if victim is None:
        return True  # a command run for another reason (a warning, after a kill): no victim block before it
    kill = _nohang_kill(parser, line, victim, trigger)
    kill['action'] = 'command ' + match.group('command')
    return parser.start(_NOHANG_RECORD, kill, line, line.body)


@_declare(('Preventing OOM',), _NOHANG_2018, starts=('SIG[A-Z]*',))
def _on_nohang_2018(parser, line, match):
    kill = parser.new_kill('nohang', line, comm=match.group('comm') or None)
    kill['signal'] = match.group('signal')
    _nohang_2018_fields(kill, line.body)
    parser.windows['send'] = _SEND_WINDOW
    return parser.start(_NOHANG_RECORD, kill, line, line.body)


# ---------------------------------------------------------------------------
# The tables the parser runs on, derived from the declarations above

# (needle, pattern, handler) for each needle, in declared order.
_GRAMMARS = tuple((needle, grammar.pattern, grammar.handler) for grammar in _DECLARED for needle in grammar.needles)
# (needle, pattern) of the formats whose lines never continue another record.
_STANDALONE = tuple((needle, grammar.pattern) for grammar in _DECLARED if grammar.standalone
                    for needle in grammar.needles)
# (window, needles) of the formats read in a window although their lines hold no keyword.
_LATE = tuple((window, tuple(needle for grammar in _DECLARED if grammar.late == window for needle in grammar.needles))
              for window in sorted(set(grammar.late for grammar in _DECLARED if grammar.late)))
# A line holding none of these cannot be a record (only the tail of a cut one, see _cut_tail).
_NEEDLES = tuple(sorted(set(needle for needle, _pattern, _handler in _GRAMMARS)))
# A keyword line that matched no format is kept for a join with the next line only when it stops
# shortly after the start of a record, as a wrapped or cut record line does. The start must follow a
# blank or one of : ; > ] (or start the line); _cut_tail checks that apart, because a pattern that
# starts with a literal of each branch is searched several times faster.
_STARTS = sorted(set(start for grammar in _DECLARED for start in grammar.starts))
_CUT_TAIL = _Lazy(r'(?:%s)(?:\W+[^\s]+){0,4}\W*$' % '|'.join(_STARTS))
_CUT_TAIL_AFTER = _Lazy(r'[\s:;>\]]')
# The literal words the branches of _CUT_TAIL start with, leaving out those that start with another one.
_CUT_TAIL_WORDS = set(re.match(r'[\w ]+', start).group() for start in _STARTS)
_CUT_TAIL_STARTS = tuple(sorted(word for word in _CUT_TAIL_WORDS
                                if not any(word != other and word.startswith(other) for other in _CUT_TAIL_WORDS)))


# ---------------------------------------------------------------------------
# Drivers

def parse_lines(lines, page_size=4096, source=None):
    """Kills found in an iterable of lines (str or bytes), oldest first, as a generator."""
    parser = KillLogParser(page_size=page_size, source=source)
    recent = collections.deque(maxlen=LOOKBACK)
    for line in lines:
        candidate = is_candidate(line)
        if candidate or parser.follow:
            yield from parser.feed(line, recent, candidate)
        recent.append(line.rstrip(b'\r\n' if isinstance(line, bytes) else '\r\n'))
    yield from parser.close()


def scan_chunks(chunks, page_size=4096, source=None, userspace=True):
    """Kills found in a log given as byte chunks of any size (e.g. 1 MiB reads), oldest first.

    The same kills as parse_lines over the same lines, but a line without a keyword costs nothing:
    each chunk is searched for the keywords once, and only the lines holding one (and the lines the
    parser asks to follow) are looked at. userspace=False is for the kernel's own logs: every kill
    except nohang's command actions is still found, a third faster.
    """
    scans = _KEYWORD_SCANS if userspace else _KERNEL_KEYWORD_SCANS
    parser = KillLogParser(page_size=page_size, source=source)
    tail = b''
    context = []  # the last LOOKBACK lines before the current chunk, for lookback across chunks
    for chunk in chunks:
        if isinstance(chunk, str):
            chunk = chunk.encode('utf-8', 'surrogateescape')
        first = chunk.find(b'\n')
        if first < 0:
            tail = tail + chunk if len(tail) < _MAX_LINE_BYTES else tail
            continue
        begin = 0
        if tail:
            # The line cut by the previous chunk: put it together on its own, not the whole chunk.
            line = tail + chunk[:first + 1]
            yield from _scan_block(parser, line, 0, len(line), context, scans)
            context = _lines_before(line, len(line), context)
            begin = first + 1
        end = chunk.rfind(b'\n') + 1
        yield from _scan_block(parser, chunk, begin, end, context, scans)
        context = _lines_before(chunk, end, context, begin)
        tail = chunk[end:]
    if tail:
        yield from _scan_block(parser, tail + b'\n', 0, len(tail) + 1, context, scans)
    yield from parser.close()


def _scan_block(parser, block, begin, end, context, scans):
    """Feed the parser the lines of block[begin:end] (whole lines) it needs."""
    starts = set()
    for pattern, before in scans:
        for match in pattern.finditer(block, begin, end):
            found = match.start()
            if before is None or (found > begin and block[found - 1] in before):
                starts.add(max(begin, block.rfind(b'\n', begin, found) + 1))
    starts = sorted(starts)
    index = 0
    pos = begin
    while pos < end:
        while index < len(starts) and starts[index] < pos:
            index += 1
        candidate = index < len(starts) and starts[index] == pos
        if not candidate and not parser.follow:
            if index == len(starts):
                return
            pos = starts[index]
            candidate = True
        stop = block.find(b'\n', pos, end)
        history = functools.partial(_lines_before, block, pos, context, begin)
        yield from parser.feed(block[pos:stop], history, candidate)
        pos = stop + 1


def _lines_before(block, pos, context, begin=0, count=LOOKBACK):
    """The up to `count` lines before offset `pos` (a line start) of block[begin:], then of context;
    oldest first."""
    lines = []
    while pos > begin and len(lines) < count:
        start = max(begin, block.rfind(b'\n', begin, pos - 1) + 1)
        lines.append(block[start:pos - 1].rstrip(b'\r'))
        pos = start
    lines.reverse()
    if len(lines) < count and context:
        lines[:0] = context[-(count - len(lines)):]
    return lines


# ---------------------------------------------------------------------------
# Times

_UPTIME_RE = _Lazy(r'^\d+\.\d+$')
_ISO_RE = _Lazy(r'^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d(?::?\d\d)?)?$')
_BSD_RE = _Lazy(r'^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?$')
_CTIME_RE = _Lazy(r'^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$')
_FULL_RE = _Lazy(r'^[A-Z][a-z]{2} (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? (\S+)$')
_LOGCAT_RE = _Lazy(r'^(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d+)$')


def absolute_time(text, year=None, boot_time=None, reference=None):
    """Seconds since the epoch for a kill's `time`, or None when it cannot be known.

    year: the year for stamps printed without one (syslog, logcat); with `reference` (the log's
    modification time) a stamp that would lie more than a day after it is taken from the year before.
    boot_time: the epoch of the boot the kernel's [uptime] stamps count from (only for the running
    kernel's own buffer). Local time for stamps without a zone.
    """
    if not text:
        return None
    if _UPTIME_RE.match(text):
        return None if boot_time is None else boot_time + float(text)
    match = _ISO_RE.match(text)
    if match:
        fields = [int(v) for v in match.groups()[:6]]
        return _epoch(fields, match.group(7), match.group(8))
    match = _FULL_RE.match(text)
    if match:
        fields = [int(v) for v in match.groups()[:6]]
        zone = match.group(8)
        return _epoch(fields, match.group(7), 'Z' if zone in ('UTC', 'GMT') else None)
    match = _CTIME_RE.match(text)
    if match:
        month = _MONTHS.get(match.group(1))
        if month is None:
            return None
        return _epoch([int(match.group(6)), month] + [int(v) for v in match.groups()[1:5]], None, None)
    match = _BSD_RE.match(text)
    if match:
        month = _MONTHS.get(match.group(1))
        if month is None:
            return None
        return _yearless([month] + [int(v) for v in match.groups()[1:5]], match.group(6), year, reference)
    match = _LOGCAT_RE.match(text)
    if match:
        return _yearless([int(v) for v in match.groups()[:5]], match.group(6), year, reference)
    return None


_DURATION = _Lazy(r'^(\d+)\s*([smhdw])$')
_DURATION_SECONDS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
_SINCE_FORMATS = ('%Y-%m-%d', '%Y-%m-%d %H:%M', '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M', '%Y-%m-%dT%H:%M:%S')


def since_epoch(text, now):
    """The epoch for the `since` option: a local date/time or a duration back from `now`. ValueError if neither."""
    text = text.strip()
    match = _DURATION.match(text)
    if match:
        return now - int(match.group(1)) * _DURATION_SECONDS[match.group(2)]
    for form in _SINCE_FORMATS:
        try:
            return time.mktime(time.strptime(text, form))
        except ValueError:
            continue
    raise ValueError('since: %r is neither a date (YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS], local time) nor a '
                     'duration back from now (90m, 12h, 7d, 2w)' % text)


def _yearless(fields, fraction, year, reference):
    if year is None:
        if reference is None:
            return None
        year = time.localtime(reference).tm_year
    when = _epoch([year] + fields, fraction, None)
    if when is not None and reference is not None and when > reference + 86400:
        when = _epoch([year - 1] + fields, fraction, None)
    return when


def _epoch(fields, fraction, zone):
    # Imported here: calendar brings locale and datetime, start-up that a scan (no absolute times) never needs.
    import calendar
    year, month, day, hour, minute, second = fields
    try:
        if zone:
            offset = 0
            if zone != 'Z':
                sign = -1 if zone[0] == '-' else 1
                digits = zone[1:].replace(':', '')
                offset = sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
            when = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
        else:
            when = time.mktime((year, month, day, hour, minute, second, 0, 0, -1))
    except (OverflowError, ValueError):
        return None
    return when + (float('0.' + fraction) if fraction else 0.0)
