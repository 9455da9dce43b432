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
are never kills.

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

KILL_FIELDS = ('time', 'killer', 'pid', 'comm', 'adj', 'rss_kb', 'signal', 'cgroup', 'source', 'lines')

# Every line that starts a record or stands for one holds a keyword, a kill word or a signal name
# (_CANDIDATE). Lines that only continue a record are read because the parser asks for them (follow),
# and the lines printed just before a record are read back from it (LOOKBACK).
# Each keyword's search over a chunk, and the bytes that must come just before it (None: any), so
# that a keyword found is exactly a _CANDIDATE: "ill" alone is also "will", "still" and "fill".
_KEYWORD_SCANS = ((re.compile(b'ill'), frozenset(b'Kk')), (re.compile(b'SIG'), None))
_CANDIDATE = re.compile(r'[Kk]ill|SIG')
_CANDIDATE_BYTES = re.compile(br'[Kk]ill|SIG')
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
_RFC5424 = re.compile(r'<\d{1,3}>1 (?P<wall>' + _ISO + r') (?P<host>\S+) (?P<prog>\S+) \S+ \S+ (?:-|(?:\[[^\]]*\])+)')
# journalctl -o short-full: "Thu 2024-02-04 02:28:44 UTC host prog[pid]:"
_FULL = re.compile(r'(?P<wall>[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [A-Za-z][\w+-]*)' + _HOST_PROG)
_ISO_PREFIX = re.compile(r'(?P<wall>' + _ISO + r')' + _HOST_PROG)
_BSD_PREFIX = re.compile(r'(?P<wall>' + _BSD + r')' + _HOST_PROG)
# Android logcat: threadtime "02-04 02:28:44.123  1234  1235 I tag: ", time "02-04 02:28:44.123 I/tag( 1234): "
_LOGCAT = re.compile(r'(?P<wall>\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s+(?:\d+\s+\d+\s+[VDIWEFA] (?P<prog>[^:]*?)\s*:|'
                     r'[VDIWEFA]/(?P<prog2>[^(:]*?)\(\s*\d+\):)')
# Wall-clock prefixes by the first character of the line: a digit, "<" or a capital letter.
_WALL_PREFIXES = {'0': (_ISO_PREFIX, _LOGCAT), '<': (_RFC5424,), 'A': (_BSD_PREFIX, _FULL)}
_KERNEL_PREFIX = re.compile(
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
_QUOTE = re.compile(r'[ \t]*(?:>[ \t]?)+')
_INDENT = re.compile(r'[ \t]*')
_ANSI = re.compile(r'(?:\x1b|#033|\\033|\\x1b|\\e)\[[0-9;]*m')
# What every _ANSI match holds; a line without them (most) skips the search, which cannot skip ahead.
_ANSI_MARKS = ('\x1b', '#033', '\\')
# Newlines inside one record as /dev/kmsg (\x0a) and rsyslog (#012) escape them.
_NEWLINE_ESCAPES = re.compile(r'\\x0a|#012')


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
        self.complete = re.compile(complete) if complete else None
        self.unspaced = unspaced
        self._next = re.compile(r'\s*%s(?:%s)\b' % (',?' if unspaced else '', '|'.join(fields)))

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
_VMRSS_MIB = re.compile(r'\bVmRSS:?\s*(?P<mib>\d+) MiB')
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
_HARD_WRAP_BEFORE = re.compile(r'(?:[:=/_-]|\d)$')
_HARD_WRAP_AFTER = re.compile(r'^(?:kB\b|\d)')


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
            'rss_kb': None, 'signal': None, 'cgroup': None, 'source': self.source, 'lines': [line.raw],
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

    def lines_back(self):
        """The up to LOOKBACK lines before the current one, oldest first, as text."""
        history = self._history() if callable(self._history) else list(self._history)
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

_LMK_SEND = re.compile(r'send sigkill to (?P<pid>\d+)\b')
_LMK_SEND_COMM = re.compile(r'\s*\((?P<comm>.*)\), adj|\s*\((?P<comm2>[^)]*)\)')
_LMK_SIZE = re.compile(r'\bsize (?P<size>\d+)(?P<unit>\s*Byte|\s*kB)?')
_LMK_SEND_RECORD = Wrapped(('adj', 'size'), complete=r'size \d+(?:\s*Byte\(s\)|\s*kB)?\s*$',
                           refill=lambda parser, record: _lmk_send_fields(record.kill, record.text, parser.page_size))
_KILLING = re.compile(r"Killing '(?P<comm>.*?)' \((?P<pid>\d+)\)(?: \(tgid (?P<tgid>\d+)\))?,(?P<uid> uid \d+)?")
_SCORE_ADJ = re.compile(r'\b(?:oom_)?score_adj:?\s*(?P<adj>-?\d+)')
_ADJ = re.compile(r'\badj:?\s*(?P<adj>-?\d+)')
_TO_FREE = re.compile(r'\bto free (?P<kb>\d+)\s*kB')
_KILLING_RECORD = MultiLine(
    lambda parser, record: _set_known(record.kill, rss_kb=_number(_TO_FREE, record.text)),
    more=re.compile(r'\s*(?:to free|cache |Free |Total |GFP |is_kswapd|Slab |swap|file |reclaim)'))


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


@_declare(("Killing '",), _KILLING, starts=('Killing',))
def _on_killing(parser, line, match):
    pid = match.group('tgid') or match.group('pid')
    killer = 'lmkd' if match.group('uid') else 'lowmemorykiller'
    kill = parser.new_kill(killer, line, pid=int(pid), comm=match.group('comm'))
    # The victim's adj is on the first line; "for oom_score_adj N" further on is the threshold's.
    header = line.body[match.end():].split(' to free ')[0]
    adj = _SCORE_ADJ.search(header) or _ADJ.search(header)
    kill['adj'] = int(adj.group('adj')) if adj else None
    kill['rss_kb'] = _number(_TO_FREE, line.body)
    return parser.start(_KILLING_RECORD, kill, line, line.body)


# ---------------------------------------------------------------------------
# Android lmkd (10 and later): "Kill 'COMM' (PID), uid N, oom_score_adj N to free NkB rss, ..."

_LMKD_KILL = re.compile(r"\bKill '(?P<comm>.*?)' \((?P<pid>\d+)\), uid \d+, (?:oom_score_adj|oom_adj) (?P<adj>-?\d+)")
_LMKD_RECORD = Wrapped(('to free', 'reason'),
                       refill=lambda parser, record: record.kill.update(rss_kb=_number(_TO_FREE, record.text)))


@_declare(("Kill '",), _LMKD_KILL, starts=('Kill',))
def _on_lmkd(parser, line, match):
    kill = parser.new_kill('lmkd', line, pid=int(match.group('pid')), comm=match.group('comm'))
    kill['adj'] = int(match.group('adj'))
    kill['rss_kb'] = _number(_TO_FREE, line.body)
    return parser.start(_LMKD_RECORD, kill, line, line.body)


# ---------------------------------------------------------------------------
# The kernel OOM killer: "Killed process PID (COMM) ..." and "Kill process PID (COMM) sharing same memory";
# the OOM event's other lines (summary, memory cgroup, then oom_reaper) add to them. parser.state['oom']
# is the OOM event being printed: {memcg, summary, task_in, killer}, when known.

_OOM_KILLED = re.compile(r'Killed process (?P<pid>\d+)\b')
_OOM_COMM = re.compile(r' \((?P<comm>.*?)\)(?=[.,]?(?:\s|$))')
_OOM_SCORE_ADJ = re.compile(r'\boom_score_adj:\s*(-?\d+)')
_OOM_RSS = tuple(re.compile(r'\b%s:\s*(?P<kb>\d+)\s*kB' % name) for name in ('anon-rss', 'file-rss', 'shmem-rss'))
_OOM_KILLED_RECORD = Wrapped(
    ('total-vm', 'vsz', 'anon-rss', 'file-rss', 'shmem-rss', 'UID', 'pgtables', 'oom_score_adj'),
    complete=r'(?:(?:file|shmem)-rss:\s*\d+\s*kB|oom_score_adj:\s*-?\d+|\))\.?\s*$',
    refill=lambda parser, record: _oom_fields(record.kill, record.text))
# How many lines after an OOM kill may still hold its oom_reaper line (the window 'oom-kill').
_REAPER_WINDOW = 8
_OOM_SHARING = re.compile(r'Kill process (?P<pid>\d+) \((?P<comm>.*)\) sharing same memory')
_OOM_CANDIDATE = re.compile(r'[Kk]ill process \d+ \(.*\) score -?\d+')
_OOM_SUMMARY = re.compile(r'oom-kill:(?P<fields>\S.*)')
_SUMMARY_TASK = re.compile(r',task=(?P<comm>.*),pid=(?P<pid>\d+)(?:,uid=\d+)?')
_SUMMARY_RECORD = Wrapped(
    ('nodemask', 'cpuset', 'mems_allowed', 'global_oom', 'oom_memcg', 'task_memcg', 'task', 'pid', 'uid'),
    complete=r'uid=\d+\s*$', unspaced=True,
    refill=lambda parser, record: parser.state['oom'].update(summary=dict(_summary_fields(record.text), lines=record.lines)))
_OOM_TASK_IN = re.compile(r'Task in (?P<cgroup>\S+) killed as a result of limit of (?P<limit>\S+)')
_OOM_INVOKED = re.compile(r'invoked oom-killer')
_OOM_REAPER = re.compile(r'oom_reaper: reaped process (?P<pid>\d+)\b')


def _oom_fields(kill, text):
    comm = _OOM_COMM.match(text)
    if comm:
        kill['comm'] = comm.group('comm')
    anon, file_rss, shmem = [_number(pattern, text) for pattern in _OOM_RSS]
    if anon is not None and file_rss is not None:
        kill['rss_kb'] = anon + file_rss + (shmem or 0)
    kill['adj'] = _number(_OOM_SCORE_ADJ, text)


def _summary_fields(text):
    summary = {}
    for key in ('constraint', 'task_memcg'):
        match = re.search(r'(?:^|,)%s=([^,]*)' % key, text)
        if match:
            summary[key] = match.group(1)
    task = _SUMMARY_TASK.search(text)
    if task:
        summary['comm'] = task.group('comm')
        summary['pid'] = int(task.group('pid'))
    summary['cgroup'] = summary.get('task_memcg') or None
    return summary


@_declare(('Killed process',), _OOM_KILLED, starts=('Killed',))
def _on_oom_killed(parser, line, match):
    event = parser.state['oom']
    summary = event.get('summary') or {}
    pid = int(match.group('pid'))
    memcg = ('Memory cgroup' in line.body[:match.start()] or event.get('memcg') or 'task_in' in event
             or summary.get('constraint') == 'CONSTRAINT_MEMCG')
    killer = 'cgroup-oom' if memcg else 'oom-killer'
    kill = parser.new_kill(killer, line, pid=pid)
    if summary.get('pid') == pid:
        kill['lines'][:0] = summary['lines'][:MAX_RECORD_LINES // 2]
        kill['cgroup'] = summary.get('cgroup')
    kill['cgroup'] = kill['cgroup'] or event.get('task_in')
    text = line.body[match.end():]
    _oom_fields(kill, text)
    if kill['comm'] is None and summary.get('pid') == pid:
        kill['comm'] = summary.get('comm')
    parser.state['oom'] = {'killer': killer}
    parser.windows['oom-kill'] = _REAPER_WINDOW
    return parser.start(_OOM_KILLED_RECORD, kill, line, text)


@_declare(('sharing same memory',), _OOM_SHARING, starts=('Kill',))
def _on_sharing(parser, line, match):
    parser.hold(parser.new_kill(parser.state['oom'].get('killer', 'oom-killer'), line,
                                pid=int(match.group('pid')), comm=match.group('comm')))
    return True


@_declare(('ill process',), _OOM_CANDIDATE, starts=('Kill', 'kill'))
def _on_candidate(parser, line, match):
    if 'Memory cgroup' in line.body:
        parser.state['oom']['memcg'] = True
    return True


@_declare(('oom-kill:',), _OOM_SUMMARY)
def _on_summary(parser, line, match):
    lines = [line.raw]
    parser.state['oom']['summary'] = dict(_summary_fields(match.group('fields')), lines=lines)
    return parser.start(_SUMMARY_RECORD, None, line, match.group('fields'), lines)


@_declare(('killed as a result',), _OOM_TASK_IN, starts=('killed',))
def _on_task_in(parser, line, match):
    parser.state['oom']['task_in'] = match.group('cgroup')
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

_EARLYOOM_SEND = re.compile(r'\bsending (?P<signal>SIG[A-Z0-9]+|\d+ \(no-op signal\)) to process (?P<pid>\d+)'
                            r'(?: uid \d+)? "(?P<rest>.*)')
_EARLYOOM_COMM = re.compile(r'(?P<comm>.*?)": (?=badness|oom_score)|(?P<comm2>.*)"')
_EARLYOOM_ADJ = re.compile(r'\boom_score_adj (-?\d+)')
_EARLYOOM_RECORD = Wrapped(
    ('badness', 'oom_score', 'oom_score_adj', 'VmRSS', 'cmdline'), complete=r'(?:cmdline ".*"|VmRSS \d+ MiB)\s*$',
    refill=lambda parser, record: _earlyoom_fields(record.kill, record.text))
_EARLYOOM_V12 = re.compile(r"Killing process '(?P<comm>.*)' with signal (?P<signal>\d+), pid: (?P<pid>\d+)")
_EARLYOOM_V11 = re.compile(r'Killing process: (?P<comm>.*), pid: (?P<pid>\d+), badness')
_EARLYOOM_OLD = re.compile(r'[Kk]illing process\b')
_EARLYOOM_V13RC = re.compile(r'killing process (?P<pid>\d+) "(?P<comm>.*)" with signal (?P<signal>\d+)')
_EARLYOOM_V0 = re.compile(r'^Killing process (?P<pid>\d+) (?P<comm>\S.*?)\s*$')
_EARLYOOM_ESCALATE = re.compile(r'escalating to (?P<signal>SIG[A-Z]+) after')
# No signal went out: a dry run, or kill(2) refused (EPERM) or found no process (ESRCH). "kill failed: Timer
# expired" means the signal went out but the process did not exit in time.
_EARLYOOM_FAILED = re.compile(r'dryrun, not actually sending|\bkill(?:\(\))? failed.*(?:not permitted|No such process)')


def _earlyoom_fields(kill, rest):
    comm = _EARLYOOM_COMM.match(rest)
    if comm:
        kill['comm'] = comm.group('comm') if comm.group('comm') is not None else comm.group('comm2')
    kill['rss_kb'] = _mib_to_kb(_number(_VMRSS_MIB, rest))
    kill['adj'] = _number(_EARLYOOM_ADJ, rest)


def _earlyoom_sent(parser, kill, line, text):
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
        _earlyoom_sent(parser, dict(last, time=line.time, signal=match.group('signal'), lines=[line.raw]), line, '')
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

_OOMD = re.compile(r'\b(?:Killed|Marked) (?P<cgroup>/\S*) (?:for killing )?due to (?:memory|swap)')
_OOMD_RECORD = Wrapped(('due to', 'for', 'being', 'with'), complete=r'(?:activity|%)\s*$',
                       refill=lambda parser, record: _set_known(record.kill, cgroup=_group(_OOMD, record.text, 'cgroup')))
_OOMD_ATTEMPT = re.compile(r'oomd attempting to kill (?P<pid>\d+) with')


@_declare(('due to',), _OOMD, starts=('Killed', 'Marked'))
def _on_oomd(parser, line, match):
    kill = parser.new_kill('systemd-oomd', line)
    kill['cgroup'] = match.group('cgroup')
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
# nohang: "Sending SIGTERM to the victim" after a victim block (a field per line); in 2018 "Preventing
# OOM: trying to send the SIGTERM signal to COMM," with "Pid: N, ..." on the next line

_NOHANG_SEND = re.compile(r'\bSend(?:ing)? (?P<signal>SIG[A-Z]+) to the victim')
_NOHANG_VICTIM = re.compile(r'Victim (?:status|information) \(found in|Found a process with highest badness')
# (field, the strings a match holds: a line without one skips the search, which \b keeps from skipping ahead, pattern)
_NOHANG_FIELDS = (
    ('pid', ('PID:', 'Pid:'), re.compile(r'\b(?:PID|Pid):\s*(?P<v>\d+)')),
    ('comm', ('ame:',), re.compile(r'\b[Nn]ame:\s*(?P<v>.*?)(?:, state:|$)')),
    ('adj', ('oom_score_adj:',), re.compile(r'\boom_score_adj:\s*(?P<v>-?\d+)')),
    ('rss_mib', ('RSS:',), re.compile(r'\b(?:VmRSS|RSS):\s*(?P<v>\d+)')),
    ('cgroup_v2', ('cgroup_v2:',), re.compile(r'\bcgroup_v2:\s*(?P<v>\S+)')),
    ('cgroup_v1', ('cgroup_v1:', 'CGroup:'), re.compile(r'\b(?:cgroup_v1|CGroup):\s*(?P<v>\S+)')),
)
_NOHANG_2018 = re.compile(r'Preventing OOM: trying to send the (?P<signal>SIG[A-Z]+) signal to '
                          r'(?:blacklisted process )?(?P<comm>.*?),(?:\s*Pid: (?P<pid>\d+))?')
_NOHANG_PID = re.compile(r'\bPid: (\d+)')
_NOHANG_FAILED = re.compile(r'died before corrective action|Cannot send a signal|[Nn]o such process')
# The send's next lines say whether it failed; the 2018 form's give the victim's fields, the last one's win.
_NOHANG_RECORD = MultiLine(lambda parser, record: _nohang_2018_fields(record.kill, record.text.rpartition('\n')[2]),
                           limit=3, cancel=_NOHANG_FAILED)


def _nohang_victim(parser, send):
    """nohang's victim block, printed in the lines just before its send: {field: value, 'lines': [...]}."""
    history = parser.lines_back()
    start = None
    for index in range(len(history) - 1, -1, -1):
        if not ('ictim' in history[index] or 'badness' in history[index]):
            continue  # cheap test before the prefix is split
        line_prefix = split_prefix(history[index])
        if send.program and line_prefix.program not in (None, send.program):
            continue
        body = _strip_ansi(line_prefix.body)
        if _NOHANG_SEND.search(body):
            break  # the block before an earlier send is that send's
        if _NOHANG_VICTIM.search(body):
            start = index
            break
    victim = {'lines': []}
    if start is None:
        return victim
    for line in history[start:]:
        line_prefix = split_prefix(line)
        if send.program and line_prefix.program not in (None, send.program):
            continue
        victim['lines'].append(line)
        body = _strip_ansi(line_prefix.body)
        for key, needles, pattern in _NOHANG_FIELDS:
            if key in victim or not _holds_any(body, needles):
                continue  # the first line with a field gives it
            match = pattern.search(body)
            if match:
                value = match.group('v').strip()
                victim[key] = int(value) if key in ('pid', 'adj', 'rss_mib') else value
    return victim


def _nohang_2018_fields(kill, text):
    _set_known(kill, pid=_number(_NOHANG_PID, text), rss_kb=_mib_to_kb(_number(_VMRSS_MIB, text)))


@_declare(('to the victim',), _NOHANG_SEND, starts=('Send(?:ing)?', 'SIG[A-Z]*'))
def _on_nohang_send(parser, line, match):
    if _NOHANG_FAILED.search(line.body):
        return True
    victim = _nohang_victim(parser, line)
    kill = parser.new_kill('nohang', line, pid=victim.get('pid'), comm=victim.get('comm'))
    kill['lines'][:0] = victim.get('lines', [])[:MAX_RECORD_LINES - 1]
    kill['signal'] = match.group('signal')
    kill['adj'] = victim.get('adj')
    kill['rss_kb'] = _mib_to_kb(victim.get('rss_mib'))
    kill['cgroup'] = victim.get('cgroup_v2') or victim.get('cgroup_v1')
    parser.windows['send'] = _SEND_WINDOW
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
_CUT_TAIL = re.compile(r'(?:%s)(?:\W+[^\s]+){0,4}\W*$' % '|'.join(_STARTS))
_CUT_TAIL_AFTER = re.compile(r'[\s:;>\]]')
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


def scan_chunks(chunks, page_size=4096, source=None):
    """Kills found in a log given as byte chunks of any size (e.g. 1 MiB reads), oldest first.

    The same kills as parse_lines over the same lines, but a line without a keyword costs nothing:
    each chunk is searched for the keywords once, and only the lines holding one (and the lines the
    parser asks to follow) are looked at.
    """
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
            yield from _scan_block(parser, line, 0, len(line), context)
            context = _lines_before(line, len(line), context)
            begin = first + 1
        end = chunk.rfind(b'\n') + 1
        yield from _scan_block(parser, chunk, begin, end, context)
        context = _lines_before(chunk, end, context, begin)
        tail = chunk[end:]
    if tail:
        yield from _scan_block(parser, tail + b'\n', 0, len(tail) + 1, context)
    yield from parser.close()


def _scan_block(parser, block, begin, end, context):
    """Feed the parser the lines of block[begin:end] (whole lines) it needs."""
    starts = set()
    for pattern, before in _KEYWORD_SCANS:
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


def _lines_before(block, pos, context, begin=0):
    """The up to LOOKBACK lines before offset `pos` (a line start) of block[begin:], then of context;
    oldest first."""
    lines = []
    while pos > begin and len(lines) < LOOKBACK:
        start = max(begin, block.rfind(b'\n', begin, pos - 1) + 1)
        lines.append(block[start:pos - 1].rstrip(b'\r'))
        pos = start
    lines.reverse()
    if len(lines) < LOOKBACK and context:
        lines[:0] = context[-(LOOKBACK - len(lines)):]
    return lines


# ---------------------------------------------------------------------------
# Times

_UPTIME_RE = re.compile(r'^\d+\.\d+$')
_ISO_RE = re.compile(r'^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d(?::?\d\d)?)?$')
_BSD_RE = re.compile(r'^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?$')
_CTIME_RE = re.compile(r'^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$')
_FULL_RE = re.compile(r'^[A-Z][a-z]{2} (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? (\S+)$')
_LOGCAT_RE = re.compile(r'^(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d+)$')


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


_DURATION = re.compile(r'^(\d+)\s*([smhdw])$')
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
