#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: lowmemorykiller_info
short_description: Who killed my process? Memory killers, their thresholds and their kills
version_added: 0.1.0
description:
  - Reports the C(lowmemorykiller) driver's parameters and effective thresholds, memory and swap, the other
    memory killers installed or running (Android C(lmkd), earlyoom, systemd-oomd, nohang), how the thresholds
    are set at boot, risky set-ups (C(findings)) and the memory-pressure kills found in the logs, with the
    threshold that allowed each lowmemorykiller kill.
  - Reports how each service that M(lowmem.hardening.oom_protect) protects stands against each memory killer on
    the host (C(protection)), from its drop-in and its running processes; login sessions that run at
    C(oom_score_adj) -1000 (the sshd trap) are a finding.
  - Recognises the kill records of lowmemorykiller (2.6 to 4.x and vendor kernels), the kernel OOM killer and
    memory cgroup OOMs (2.6 to 6.x), earlyoom, systemd-oomd, Android lmkd and nohang, behind syslog, journal,
    C(dmesg), C(dmesg -T), kmsg, logcat and quoted e-mail prefixes.
  - Changes nothing, unless O(metrics_file) is given. Needs no root; what cannot be read is listed in
    C(unreadable), and the run still succeeds.
  - With O(metrics_file), writes what it found in node_exporter's textfile format for Prometheus.
author:
  - lowmem.hardening maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Changes nothing, in check mode or not.
  diff_mode:
    support: full
    description: Shows the change to O(metrics_file); there is nothing else to show.
  platform:
    support: full
    platforms: posix
    description: Linux. Hosts without the driver report C(present=false) and everything else.
notes:
  - Log files are scanned in large chunks and only lines holding a kill keyword are parsed, so even large logs
    are read quickly and in constant memory.
  - The same kill found in several sources (the kernel ring buffer, C(kern.log), C(syslog), the journal) is
    reported once.
  - The kernel's C([uptime]) stamps are turned into dates with the boot time for the running kernel's ring buffer
    only; kills whose date cannot be known are left out when O(since) is given, and counted in C(logs).
  - The processes are read from C(/proc) in one pass (C(stat), C(oom_score_adj) and C(cgroup) of each), and a
    process's unit is taken from its cgroup; C(systemctl) is not run.
  - Commands (C(dmesg), one C(journalctl)) run without a shell, under the C locale.
  - With O(since), a log file last written before that time is not opened (its rotated copies keep their
    times), and the journal is read from that time on; the role reads the last 30 days by default.
  - Target Python 3.6 or newer.
options:
  path:
    description: The driver's parameters directory.
    type: path
    default: /sys/module/lowmemorykiller/parameters
  sources:
    description:
      - Where to look for kills.
      - V(kmsg) is the kernel ring buffer, read with C(dmesg), or from C(/dev/kmsg) when C(dmesg) fails.
      - V(files) are the log files, see O(log_files).
      - V(journal) is the kernel's journal entries of every boot (C(_TRANSPORT=kernel)) and those of earlyoom,
        systemd-oomd, nohang and lmkd, in one C(journalctl) call, when C(journalctl) is installed.
      - Default all three, or only V(files) when O(log_files) is given.
    type: list
    elements: str
    choices: [kmsg, files, journal]
  log_files:
    description:
      - Log files to read for V(files) instead of the defaults, which are C(/var/log/kern.log), C(/var/log/syslog)
        and C(/var/log/messages) with their rotated copies (C(.1), C(.2.gz), C(-20240204), ...), oldest first.
      - Files ending in C(.gz) are decompressed. Missing files are skipped.
    type: list
    elements: path
  max_kills:
    description: How many kills to return, the newest. V(0) returns none (the findings still count them).
    type: int
    default: 50
  since:
    description:
      - Only kills at or after this time (local time), as C(YYYY-MM-DD), C(YYYY-MM-DD HH:MM[:SS]), or a duration
        back from now such as V(90m), V(12h), V(7d) or V(2w).
    type: str
  metrics_file:
    description:
      - Also write what was found to this file in Prometheus' text format, for node_exporter's textfile collector
        (C(--collector.textfile.directory); Debian's C(prometheus-node-exporter) reads
        C(/var/lib/prometheus/node-exporter)).
      - The name must end in C(.prom) and its directory must exist. Written atomically, mode 0644, root-owned, and
        only when its content changes (then the task reports C(changed)); needs root.
      - "Metrics, all gauges: C(lowmem_lmk_state{state}) (V(absent), V(enabled), V(disabled); 1 for the current
        one), C(lowmem_lmk_top_threshold_ratio) (the highest minfree as a fraction of RAM),
        C(lowmem_lmk_threshold_bytes{adj}), C(lowmem_memory_total_bytes), C(lowmem_swap_total_bytes),
        C(lowmem_swap_used_bytes), C(lowmem_kills{killer}) (the kills in the window, every killer always present),
        C(lowmem_kills_window_seconds) (O(since) as a duration, else 0), C(lowmem_kills_since_timestamp_seconds)
        (O(since) as a date), C(lowmem_last_kill_timestamp_seconds{killer}), C(lowmem_killer_running{killer}) and
        C(lowmem_findings{severity})."
      - Give O(since) as a duration (V(30d)) so that the window, like the file, stays the same between runs.
    type: path
'''

EXAMPLES = r'''
- name: Who killed my process?
  lowmem.hardening.lowmemorykiller_info:
  register: lmk

- name: Show the findings
  ansible.builtin.debug:
    msg: "{{ lmk.lowmemorykiller.findings | map(attribute='message') | list }}"

- name: Only the last day, from the logs and the journal
  lowmem.hardening.lowmemorykiller_info:
    since: 1d
    sources: [files, journal]
    max_kills: 10

- name: Read saved logs (plain or gzipped) instead of this host's
  lowmem.hardening.lowmemorykiller_info:
    log_files:
      - /srv/incident/kern.log
      - /srv/incident/kern.log.2.gz

- name: Kills of the last 30 days for Prometheus (node_exporter's textfile collector)
  lowmem.hardening.lowmemorykiller_info:
    since: 30d
    max_kills: 0
    metrics_file: /var/lib/prometheus/node-exporter/lowmem.prom
  become: true

- name: How each protected service stands against each memory killer
  ansible.builtin.debug:
    msg: "{{ lmk.lowmemorykiller.protection | items2dict(key_name='unit', value_name='killers') }}"

# Ad hoc: ansible all -m lowmem.hardening.lowmemorykiller_info
'''

RETURN = r'''
lowmemorykiller:
  description: What the host shows about memory killers, and the kills found.
  returned: always
  type: dict
  contains:
    present:
      description: Whether the driver exists (O(path) is a directory).
      type: bool
      sample: true
    path:
      description: The parameters directory looked at.
      type: str
      sample: /sys/module/lowmemorykiller/parameters
    params:
      description: Every readable parameter as the kernel shows it; arrays as lists. Empty without the driver.
      type: dict
      sample: {adj: [0, 1, 6, 12], minfree: [1536, 2048, 4096, 16384], cost: 32, debug_level: 1}
    thresholds:
      description: The effective table, the first min(len(adj), len(minfree)) pairs.
      type: list
      elements: dict
      contains:
        minfree_pages:
          description: The threshold in pages.
          type: int
        minfree_bytes:
          description: The threshold in bytes.
          type: int
        minfree_mib:
          description: The threshold in MiB.
          type: float
        minfree_percent:
          description: The threshold in % of MemTotal, or null when MemTotal is unknown.
          type: float
        adj:
          description: The lowest oom_score_adj that is a candidate below this threshold.
          type: int
      sample: [{minfree_pages: 16384, minfree_bytes: 67108864, minfree_mib: 64.0, minfree_percent: 12.5, adj: 12}]
    disabled:
      description: Whether no process can be selected (every used adj above 1000, or no table); null without the driver.
      type: bool
      sample: false
    persist:
      description: What sets the parameters at boot.
      type: dict
      contains:
        mechanisms:
          description:
            - Each boot-time mechanism found that writes the parameters.
            - C(method) is V(tmpfiles), V(sysfsutils), V(openrc), V(cron), V(script) (another shell script such
              as C(/etc/rc.local)) or V(cmdline) (the kernel command line); C(file) is where; C(values) what it
              sets; C(managed) whether lowmem.hardening.lowmemorykiller wrote it; C(matches) whether the kernel
              shows those values now.
          type: list
          elements: dict
        matches:
          description: Whether every mechanism matches the runtime values; null when there is none.
          type: bool
      sample: {mechanisms: [{method: tmpfiles, file: /etc/tmpfiles.d/lowmemorykiller.conf, managed: true,
                             values: {adj: [9999], minfree: [1]}, matches: true}], matches: true}
    memory:
      description: Memory and swap from /proc/meminfo and /proc/swaps; nulls for what could not be read.
      type: dict
      contains:
        mem_total_bytes:
          description: MemTotal.
          type: int
        mem_available_bytes:
          description: MemAvailable (null on kernels before 3.14).
          type: int
        swap_total_bytes:
          description: SwapTotal.
          type: int
        swap_used_bytes:
          description: SwapTotal minus SwapFree.
          type: int
        swaps:
          description:
            - The active swap areas, each with C(filename), C(type), C(size_bytes), C(used_bytes), C(priority).
            - A zram device (C(/dev/zramN)) also has C(zram), from C(/sys/block/zramN), with C(disksize_bytes),
              C(algorithm) (the compressor in use), C(orig_data_bytes) (what the pages stored held),
              C(compr_data_bytes) (what they take compressed), C(mem_used_bytes) (the RAM the device takes, its
              overhead included) and C(ratio) (C(orig_data_bytes) over C(compr_data_bytes); null while it is
              empty); null for what could not be read.
          type: list
          elements: dict
      sample: {mem_total_bytes: 536870912, mem_available_bytes: 201326592, swap_total_bytes: 1073741824,
               swap_used_bytes: 0, swaps: [{filename: /swapfile, type: file, size_bytes: 1073741824,
                                            used_bytes: 0, priority: -2}]}
    killers:
      description:
        - The other memory killers installed or running, each with C(name) (V(lmkd), V(earlyoom), V(systemd-oomd),
          V(nohang)), C(installed), C(running), C(pids), C(thresholds) (what it acts on, where readable) and
          C(config) (where the thresholds were read, or null).
      type: list
      elements: dict
      sample: [{name: earlyoom, installed: true, running: true, pids: [612], config: null,
                thresholds: {mem_term_percent: 10.0, mem_kill_percent: 5.0, swap_term_percent: 10.0,
                             swap_kill_percent: 5.0}}]
    findings:
      description:
        - Risky set-ups and what the logs show, warnings first, each with C(severity) (V(warning) or V(info)), a
          stable C(code) and a C(message).
        - The message of V(kills_found) counts the kills and names the newest, with its threshold as in
          C(kill_thresholds).
        - Codes include V(lmk_kills_before_swap), V(lmk_threshold_high), V(lmk_adj_includes_system),
          V(lmkd_overwrites), V(persist_missing), V(persist_out_of_sync), V(no_swap), V(several_killers),
          V(kills_found), V(lmk_absent), V(lmk_disabled), V(earlyoom_running), V(systemd_oomd_running),
          V(nohang_running), V(lmkd_running), V(unreadable).
        - V(sshd_trap) (a warning) names the login-session processes running at C(oom_score_adj) -1000, where
          they run and the service that started them. A login-session process is an interactive shell on a
          terminal, a process in a logind C(session-N.scope), or one started from an sshd session.
          C(OOMScoreAdjust=-1000) on C(ssh.service) leaks into every session; the fix is to remove it, since
          OpenSSH protects its listener itself.
        - V(lmk_reaches_protected) (a warning) names each service of C(protection) at level V(protect) or V(avoid)
          that a row of the lowmemorykiller table reaches, with its C(oom_score_adj) and that row.
        - V(oomd_no_swap) (info) says that systemd-oomd runs on a host without swap, so it acts only on the memory
          pressure of cgroups, never on swap use.
        - V(zram_oversized) (a warning) names a zram swap device whose compressed pages, when it is full, would
          take more than half the RAM (at its measured compression ratio, or 2 while it is empty), so that the
          host would thrash instead of kill.
        - V(oomd_started_before_swap) (a warning) says that the running systemd-oomd started before every swap
          area now active was switched on (its start in C(/proc/PID/stat) against the kernel's C(Adding ... swap
          on) lines of the ring buffer), so it saw no swap; known only where C(dmesg) is readable.
      type: list
      elements: dict
      sample: [{severity: warning, code: lmk_kills_before_swap, message: "lowmemorykiller starts killing when free
                memory and the file cache both fall below 64 MiB (16384 pages, 12.5% of 512 MiB RAM, ...), while
                1024 MiB of swap is unused: ..."}]
    kills:
      description:
        - Memory-pressure kills found, oldest first, at most O(max_kills) (the newest).
        - Each has C(time) (as printed), C(killer) (V(lowmemorykiller), V(oom-killer), V(cgroup-oom), V(earlyoom),
          V(systemd-oomd), V(lmkd) or V(nohang)), C(pid), C(comm), C(adj), C(rss_kb) (what the victim held),
          C(signal), C(cgroup), C(uid), C(trigger) (what made the killer act, as printed, such as the threshold
          crossed, the pressure or the kernel's reason and constraint), C(action) (what the killer did other than send
          C(signal) to C(pid), V(command CMD) for the command nohang ran on the victim, V(process group N) for
          earlyoom -g), C(source) (the file, V(dmesg), V(/dev/kmsg) or V(journal)) and C(lines) (the record as
          printed). Fields a record does not print are null. docs/kill-records.md lists the formats and their fields.
      type: list
      elements: dict
      sample: [{time: "Feb  4 02:28:44", killer: lowmemorykiller, pid: 2345, comm: mysqld, adj: 0, rss_kb: 204800,
                signal: SIGKILL, cgroup: null, uid: null, trigger: null, action: null, source: /var/log/kern.log,
                lines: ["Feb  4 02:28:44 web1 kernel: [12345.678901] send sigkill to 2345 (mysqld), adj 0, size 51200"]}]
    kill_thresholds:
      description:
        - One entry for each entry of C(kills), in the same order. For a lowmemorykiller kill, the threshold below
          which it became possible; null for the kills of other killers, and when nothing tells.
        - Each has the fields of C(thresholds) (C(minfree_pages), C(minfree_bytes), C(minfree_mib),
          C(minfree_percent), C(adj)) and C(table), where the threshold was found. V(record) is the limit that the
          kill record prints (kernels 4.9 and later). V(original) is the table that lowmem.hardening.lowmemorykiller
          saved in C(/var/lib/lowmem-hardening/lowmemorykiller.json) before it first changed the values, the one in
          force when the kills before that change were made. V(current) is the table the kernel shows now, used when
          nothing was saved.
        - From a table, it is the highest minfree whose adj is at most the victim's, because once free memory and
          the file cache are both below a row's minfree, every process with oom_score_adj at or above that row's adj
          is a candidate. The row's fields are null when no row of the table selects the victim's adj.
        - A kill made after values of another table were set was made under those, which the host no longer shows.
      type: list
      elements: dict
      sample: [{table: original, minfree_pages: 1536, minfree_bytes: 6291456, minfree_mib: 6.0, minfree_percent: 1.17,
                adj: 0}]
    logs:
      description:
        - Each source read, with C(kills) found there (after O(since)) and C(undated) (kills O(since) left out
          because their date cannot be known).
        - A log file not read because it was last written before O(since) is listed with C(kills) 0 and
          C(skipped).
      type: list
      elements: dict
      sample: [{source: /var/log/kern.log, kills: 1, undated: 0},
               {source: /var/log/kern.log.4.gz, kills: 0, undated: 0, skipped: last written before since}]
    kills_by_killer:
      description:
        - The kills of the window (O(since)), whatever O(max_kills) is, counted by killer, each with C(count),
          C(newest) (that killer's newest kill, as in C(kills)) and C(newest_timestamp) (its date in Unix seconds,
          or null when unknown).
        - Counted among the newest 1000 kills of each source, after the same kill found in several sources is
          taken once.
      type: dict
      sample: {lowmemorykiller: {count: 3, newest_timestamp: 1707013724.0,
                                 newest: {time: "Feb  4 02:28:44", killer: lowmemorykiller, pid: 2345, comm: mysqld,
                                          adj: 0, rss_kb: 204800, signal: SIGKILL, cgroup: null,
                                          source: /var/log/kern.log, lines: []}}}
    unreadable:
      description: What could not be read, each with C(source) and C(error).
      type: list
      elements: dict
      sample: [{source: dmesg, error: "dmesg: read kernel buffer failed: Operation not permitted"}]
    protection:
      description:
        - One entry for each service that has a drop-in of M(lowmem.hardening.oom_protect)
          (C(/etc/systemd/system/UNIT.d/lowmem-protect.conf) with its header), sorted by unit.
        - C(killers) holds an entry for each memory killer present that M(lowmem.hardening.oom_protect) writes for,
          each with C(effect), what that killer does with the service, and C(value), what it reads for it.
        - C(effect) is V(protect) (never chosen while anything else can be), V(avoid) (chosen late), V(none) (like
          any other process), V(prefer) (chosen first), or null when no process of the service runs. A service is
          as protected as its most exposed process.
      type: list
      elements: dict
      contains:
        unit:
          description: The systemd unit.
          type: str
          sample: postgresql@15-main.service
        level:
          description: The level the drop-in records, V(protect), V(avoid) or V(prefer).
          type: str
          sample: avoid
        processes:
          description: The service's running processes (by their cgroup), each with C(pid), C(name) (its comm) and
            C(oom_score_adj).
          type: list
          elements: dict
          sample: [{pid: 812, name: postgres, oom_score_adj: -500}]
        killers:
          description:
            - V(oom-killer), always there; C(value) is the highest C(oom_score_adj) of the service's processes
              (-1000 means V(protect)).
            - V(lowmemorykiller), where the driver exists; C(value) as for V(oom-killer), and C(threshold), the row
              of C(thresholds) that first makes the service a candidate (the highest minfree whose adj is at most
              C(value)), or null when no row reaches it (then V(protect)).
            - V(systemd-oomd), where it is installed or running; C(value) is C(ManagedOOMPreference=) as the drop-in
              sets it (V(omit) means V(protect), V(avoid) V(avoid)), for the service's whole cgroup.
            - V(earlyoom), where it is installed or running; C(value) is the C(--avoid) or C(--prefer) expression of
              the running earlyoom (else of C(EARLYOOM_ARGS)) that matches the names of the service's processes,
              as C(--avoid REGEX), or null when none does.
          type: dict
          sample: {oom-killer: {effect: avoid, value: -500},
                   lowmemorykiller: {effect: protect, value: -500, threshold: null},
                   systemd-oomd: {effect: avoid, value: avoid},
                   earlyoom: {effect: avoid, value: "--avoid ^(postgres)$"}}
    page_size:
      description: The host's page size in bytes, used to turn lowmemorykiller's sizes into kB.
      type: int
      sample: 4096
metrics_file:
  description: The file written, as O(metrics_file).
  returned: when O(metrics_file) is given
  type: str
  sample: /var/lib/prometheus/node-exporter/lowmem.prom
'''

import collections
import errno
import glob
import gzip
import os
import re
import time
import zlib

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.lowmem.hardening.plugins.module_utils import host
from ansible_collections.lowmem.hardening.plugins.module_utils import killlog
from ansible_collections.lowmem.hardening.plugins.module_utils import lmk_findings as findings
from ansible_collections.lowmem.hardening.plugins.module_utils import lowmemorykiller as lmk
from ansible_collections.lowmem.hardening.plugins.module_utils import oom_protect
from ansible_collections.lowmem.hardening.plugins.module_utils import protection_findings as protection
from ansible_collections.lowmem.hardening.plugins.module_utils import swap_findings

PROC_STAT = '/proc/stat'
SYS_BLOCK = '/sys/block'
CMDLINE = '/proc/cmdline'
KMSG = '/dev/kmsg'
DMESG = 'dmesg'
JOURNALCTL = 'journalctl'
# The first holds the kernel's lines only (rsyslog's kern.*): its scan skips what only userspace killers print.
LOG_FILES = ('/var/log/kern.log', '/var/log/syslog', '/var/log/messages')
# Boot-time files besides the directories of lowmemorykiller's own PERSIST_FILES.
BOOT_FILES = ('/etc/sysfs.conf', '/etc/rc.local')
EARLYOOM_DEFAULTS = ('/etc/default/earlyoom', '/etc/sysconfig/earlyoom')
OOMD_CONF = '/etc/systemd/oomd.conf'
OOMD_DROPIN_DIRS = ('/usr/lib/systemd/oomd.conf.d', '/run/systemd/oomd.conf.d', '/etc/systemd/oomd.conf.d')
# Where lowmem.hardening.oom_protect writes its drop-ins (UNIT.d/lowmem-protect.conf).
UNIT_DIRECTORY = '/etc/systemd/system'
NOHANG_CONFS = ('/etc/nohang/nohang.conf', '/etc/nohang/nohang-desktop.conf', '/usr/local/etc/nohang/nohang.conf')
KILLER_BINARIES = {
    'lmkd': ('/system/bin/lmkd', '/usr/bin/lmkd'),
    'earlyoom': ('/usr/bin/earlyoom', '/usr/local/bin/earlyoom'),
    'systemd-oomd': ('/usr/lib/systemd/systemd-oomd', '/lib/systemd/systemd-oomd'),
    'nohang': ('/usr/sbin/nohang', '/usr/bin/nohang', '/usr/local/sbin/nohang', '/usr/local/bin/nohang'),
}
# The journal's identifiers of the userspace killers, read with the kernel's entries.
JOURNAL_IDENTIFIERS = ('earlyoom', 'systemd-oomd', 'nohang', 'nohang-desktop', 'lmkd')
SOURCES = ('kmsg', 'files', 'journal')
CHUNK = 1 << 20
# Kills kept per source for merging and counting, whatever max_kills is (the newest; memory stays bounded).
KILL_WINDOW = 1000
# Boot-time files are small; a bigger file in those directories is not read.
MAX_BOOT_FILE = 1 << 16
_ROTATED = re.compile(r'^(?:\.(?P<number>\d+)|-(?P<date>\d{8}))(?:\.gz)?$')


def journal_command(journalctl, cutoff):
    """journalctl's argv for the kernel's entries (all boots, unlike --dmesg) or any killer's, from cutoff on.

    Matches on one field are ORed, "+" ORs the two groups: one pass over the journal files, in time order.
    """
    command = [journalctl, '--no-pager', '--quiet', '--output', 'short-iso']
    if cutoff is not None:
        command += ['--since', time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(cutoff))]
    return command + ['_TRANSPORT=kernel', '+'] + ['SYSLOG_IDENTIFIER=%s' % name for name in JOURNAL_IDENTIFIERS]


def written_before(path, cutoff):
    """Whether a log file was last written before cutoff: then every line in it is older, and it is not read."""
    if cutoff is None:
        return False
    try:
        return os.stat(path).st_mtime < cutoff
    except OSError:
        return False  # scan_file says why


def unit_behind(name):
    """The unit an alias names (Debian's /etc/systemd/system/sshd.service links to ssh.service), else name."""
    link = os.path.join(UNIT_DIRECTORY, name)
    return os.path.basename(os.path.realpath(link)) if os.path.islink(link) else name


class Source(object):
    """The kills found in one source, newest max_kills kept."""

    def __init__(self, name, family, max_kills):
        self.name = name
        self.family = family  # rotated copies of one log are one family; duplicates are looked for across families
        self.kills = collections.deque(maxlen=max(max_kills, KILL_WINDOW))
        self.count = 0
        self.undated = 0


class LowMemoryKillerInfo(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.unreadable = []
        self.killer_args = {}  # {name: argv} of the running killers, from read_killers
        self.swap_activations = None  # [(uptime, device)] of the swap areas switched on, when dmesg was read

    def note(self, source, error):
        self.unreadable.append({'source': source, 'error': error})

    # -- small readers --------------------------------------------------------

    def read_text(self, path, quiet_missing=True):
        """The text of a file, or None (noted unless it is simply missing)."""
        try:
            with open(path, 'rb') as f:
                return to_text(f.read(), errors='surrogate_or_replace')
        except (IOError, OSError) as exc:
            if not (quiet_missing and exc.errno in (errno.ENOENT, errno.ENOTDIR)):
                self.note(path, to_native(exc.strerror or exc))
            return None

    def read_params(self, path):
        try:
            texts, errors = host.read_files(path)
        except OSError as exc:
            texts, errors = {}, {path: to_native(exc.strerror or exc)}
        for source, error in sorted(errors.items()):
            self.note(source, error)
        return findings.parse_param_texts(texts)

    def read_memory(self):
        meminfo_text = self.read_text(host.MEMINFO, quiet_missing=False)
        swaps_text = self.read_text(host.PROC_SWAPS, quiet_missing=False)
        meminfo = host.parse_meminfo(meminfo_text) if meminfo_text else {}
        areas = host.parse_swaps(to_bytes(swaps_text, errors='surrogate_or_strict')) if swaps_text else []
        swaps = [{'filename': to_text(area.path, errors='surrogate_or_replace'), 'type': area.type,
                  'size_bytes': area.size, 'used_bytes': area.used, 'priority': area.priority} for area in areas]
        for area in swaps:
            name = swap_findings.zram_name(area['filename'])
            if name:
                area['zram'] = swap_findings.zram_device(*(self.read_text(os.path.join(SYS_BLOCK, name, field))
                                                           for field in ('disksize', 'comp_algorithm', 'mm_stat')))
        return findings.memory_summary(meminfo, swaps)

    def oomd_started(self, killers):
        """When the running systemd-oomd started, in seconds after boot (/proc/PID/stat's starttime), or None."""
        oomd = [k for k in killers if k['name'] == 'systemd-oomd' and k['running']]
        text = self.read_text(os.path.join(host.PROC, str(oomd[0]['pids'][0]), 'stat')) if oomd else None
        try:
            return int(text.rsplit(')', 1)[1].split()[19]) / float(os.sysconf('SC_CLK_TCK'))
        except (AttributeError, IndexError, ValueError):
            return None

    def read_int(self, path):
        text = self.read_text(path)
        try:
            return int(text.strip()) if text is not None else None
        except ValueError:
            return None

    def read_original(self, path):
        text = self.read_text(host.STATE_FILE)
        return findings.original_params(text, path) if text is not None else None

    # -- other killers -------------------------------------------------------

    def read_killers(self):
        try:
            processes = host.find_processes(findings.KILLER_NAMES, scripts=('nohang',))
        except OSError as exc:
            self.note(host.PROC, to_native(exc.strerror or exc))
            processes = {}
        killers = []
        for name in findings.KILLER_NAMES:
            installed = any(os.path.exists(path) for path in KILLER_BINARIES[name])
            running = processes.get(name, [])
            if not installed and not running:
                continue
            argv = running[0][1][1:] if running else []
            self.killer_args[name] = argv
            thresholds, config = self.killer_thresholds(name, argv, bool(running))
            killers.append({'name': name, 'installed': installed, 'running': bool(running),
                            'pids': [pid for pid, _argv in running], 'thresholds': thresholds, 'config': config})
        return killers

    def killer_thresholds(self, name, argv, running):
        if name == 'earlyoom':
            if running:
                return findings.earlyoom_thresholds(argv), None
            for path in EARLYOOM_DEFAULTS:
                text = self.read_text(path)
                if text is not None:
                    return findings.earlyoom_thresholds(findings.earlyoom_args_from_default(text)), path
            return findings.earlyoom_thresholds([]), None
        if name == 'systemd-oomd':
            paths = [OOMD_CONF] + self.dropins(OOMD_DROPIN_DIRS, '.conf')
            texts = [(path, self.read_text(path)) for path in paths]
            read = [(path, text) for path, text in texts if text is not None]
            return findings.oomd_thresholds(text for path, text in read), read[-1][0] if read else None
        if name == 'nohang':
            paths = list(NOHANG_CONFS)
            for index, arg in enumerate(argv):
                if arg in ('-c', '--config') and index + 1 < len(argv):
                    paths.insert(0, argv[index + 1])
            for path in paths:
                text = self.read_text(path)
                if text is not None:
                    return findings.nohang_thresholds(text), path
        return {}, None

    @staticmethod
    def dropins(directories, suffix):
        """Drop-in files by name; a name in a later directory overrides the same name in an earlier one."""
        chosen = {}
        for directory in directories:
            for path in glob.glob(os.path.join(directory, '*' + suffix)):
                chosen[os.path.basename(path)] = path
        return [chosen[name] for name in sorted(chosen)]

    # -- protected services --------------------------------------------------

    def read_processes(self):
        try:
            return host.read_processes()
        except OSError as exc:
            if not any(u['source'] == host.PROC for u in self.unreadable):  # read_killers may have said so
                self.note(host.PROC, to_native(exc.strerror or exc))
            return []

    def read_dropins(self):
        """{unit: text} of the files named like oom_protect's drop-ins; systemctl is not asked, to stay cheap."""
        found = {}
        for path in sorted(glob.glob(os.path.join(UNIT_DIRECTORY, '*.service.d', oom_protect.DROPIN_NAME))):
            text = self.read_text(path)
            if text is not None:
                found[unit_behind(os.path.basename(os.path.dirname(path))[:-len('.d')])] = text
        return found

    def earlyoom_args(self, killers):
        """The running earlyoom's arguments, else those its service would be started with."""
        if any(k['name'] == 'earlyoom' and k['running'] for k in killers):
            return self.killer_args.get('earlyoom', [])
        for path in EARLYOOM_DEFAULTS:
            text = self.read_text(path)
            if text is not None:
                return oom_protect.read_earlyoom_defaults(text)[0]
        return []

    def read_protection(self, facts, processes):
        dropins = self.read_dropins()
        if not dropins:
            return []
        killers = protection.present_killers(facts['present'], facts['killers'])
        args = self.earlyoom_args(facts['killers']) if 'earlyoom' in killers else []
        return protection.protection(dropins, processes, killers, facts['thresholds'], args)

    # -- boot-time values ------------------------------------------------------

    def read_persist(self, path, params):
        mechanisms = []
        seen = set()
        methods_by_dir = dict((os.path.dirname(f), m) for m, f in lmk.PERSIST_FILES.items())
        candidates = list(lmk.PERSIST_FILES.values())
        for directory in sorted(methods_by_dir):
            candidates.extend(sorted(glob.glob(os.path.join(directory, '*'))))
        candidates.extend(BOOT_FILES)
        for candidate in candidates:
            if candidate in seen or not os.path.isfile(candidate):
                continue
            seen.add(candidate)
            try:
                if os.path.getsize(candidate) > MAX_BOOT_FILE:
                    continue
            except OSError:
                continue
            text = self.read_text(candidate)
            if not text or 'lowmemorykiller' not in text and path not in text:
                continue
            values = findings.boot_values(text, path)
            if not values:
                continue
            method = methods_by_dir.get(os.path.dirname(candidate))
            if method is None:
                method = 'sysfsutils' if os.path.basename(candidate) == 'sysfs.conf' else 'script'
            mechanisms.append({'method': method, 'file': candidate, 'values': values,
                               'managed': lmk.boot_file_header(path) in text})
        cmdline = self.read_text(CMDLINE)
        values = findings.cmdline_values(cmdline) if cmdline else {}
        if values:
            mechanisms.append({'method': 'cmdline', 'file': CMDLINE, 'values': values, 'managed': False})
        return findings.persist_summary(mechanisms, params)

    # -- kills -----------------------------------------------------------------

    def read_kills(self, sources, cutoff, page_size):
        max_kills = self.params['max_kills']
        boot_time = self.boot_time()
        read = []
        if 'journal' in sources:
            read.extend(self.scan_journal(cutoff, page_size, max_kills))
        skipped = []
        if 'files' in sources:
            for path, family in self.log_files():
                if written_before(path, cutoff):
                    skipped.append(path)
                    continue
                source = self.scan_file(path, family, cutoff, page_size, max_kills)
                if source is not None:
                    read.append(source)
        if 'kmsg' in sources:
            source = self.scan_ring_buffer(boot_time, cutoff, page_size, max_kills)
            if source is not None:
                read.append(source)
        logs = [{'source': s.name, 'kills': s.count, 'undated': s.undated} for s in read]
        logs += [{'source': path, 'kills': 0, 'undated': 0, 'skipped': 'last written before since'} for path in skipped]
        return merge(read), logs

    def collect(self, source, kills, cutoff, year=None, boot_time=None, reference=None):
        for kill in kills:
            when = killlog.absolute_time(kill['time'], year=year, boot_time=boot_time, reference=reference)
            if cutoff is not None:
                if when is None:
                    source.undated += 1
                    continue
                if when < cutoff:
                    continue
            kill['when'] = when
            source.count += 1
            source.kills.append(kill)
        return source

    def boot_time(self):
        text = self.read_text(PROC_STAT) or ''
        match = re.search(r'^btime\s+(\d+)', text, re.M)
        return int(match.group(1)) if match else None

    def log_files(self):
        """[(path, family)] oldest first: explicit files as given, else the defaults with their rotations."""
        if self.params['log_files']:
            return [(path, path) for path in self.params['log_files']]
        found = []
        for base in LOG_FILES:
            rotated = []
            for path in glob.glob(base + '.*') + glob.glob(base + '-*'):
                match = _ROTATED.match(path[len(base):])
                if match:
                    key = (-int(match.group('number')), '') if match.group('number') else (-10 ** 9, match.group('date'))
                    rotated.append((key, path))
            found.extend((path, base) for _key, path in sorted(rotated))
            if os.path.exists(base):
                found.append((base, base))
        return found

    def scan_file(self, path, family, cutoff, page_size, max_kills):
        source = Source(path, family, max_kills)
        try:
            reference = os.stat(path).st_mtime
            opener = gzip.open if path.endswith('.gz') else open
            with opener(path, 'rb') as f:
                kills = killlog.scan_chunks(iter(lambda: f.read(CHUNK), b''), page_size=page_size, source=path,
                                            userspace=bool(self.params['log_files']) or family != LOG_FILES[0])
                self.collect(source, kills, cutoff, reference=reference)
        except (IOError, OSError, EOFError, zlib.error) as exc:
            if getattr(exc, 'errno', None) in (errno.ENOENT, errno.ENOTDIR) and not self.params['log_files']:
                return None
            self.note(path, to_native(getattr(exc, 'strerror', None) or exc))
            if not source.count:
                return None
        return source

    def scan_ring_buffer(self, boot_time, cutoff, page_size, max_kills):
        dmesg = self.module.get_bin_path(DMESG)
        error = 'no dmesg command'
        if dmesg:
            rc, out, err = host.run_command(self.module, [dmesg], binary=True)
            if rc == 0:
                self.swap_activations = swap_findings.swap_activations(out)
                source = Source('dmesg', 'kmsg', max_kills)
                kills = killlog.scan_chunks([out], page_size=page_size, source='dmesg', userspace=False)
                return self.collect(source, kills, cutoff, boot_time=boot_time)
            error = to_native(err, errors='surrogate_or_replace').strip() or 'exit status %d' % rc
            error = error if error.startswith('dmesg') else 'dmesg: %s' % error
        records, kmsg_error = self.read_kmsg()
        if records is None:
            self.note('dmesg', error)
            self.note(KMSG, kmsg_error)
            return None
        source = Source(KMSG, 'kmsg', max_kills)
        return self.collect(source, killlog.parse_lines(records, page_size=page_size, source=KMSG),
                            cutoff, boot_time=boot_time)

    @staticmethod
    def read_kmsg():
        """The records in the kernel ring buffer, read from /dev/kmsg without blocking; (None, error) if not."""
        try:
            fd = os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            return None, to_native(exc.strerror or exc)
        records = []
        try:
            while True:
                try:
                    record = os.read(fd, 8192)
                except OSError as exc:
                    if exc.errno == errno.EPIPE:
                        continue  # overwritten while reading: the next read gives the oldest left
                    if exc.errno == errno.EAGAIN:
                        break
                    raise
                if not record:
                    break
                # "PRI,SEQ,USEC,FLAGS;text\n" then " KEY=value" lines, which are not log text
                records.append(record.split(b'\n', 1)[0])
        except OSError as exc:
            return None, to_native(exc.strerror or exc)
        finally:
            os.close(fd)
        return records, None

    def scan_journal(self, cutoff, page_size, max_kills):
        """The kernel's entries of every boot and the userspace killers' entries, in one journalctl call whose
        output is scanned as it comes (a big journal prints hundreds of MB)."""
        journalctl = self.module.get_bin_path(JOURNALCTL)
        if not journalctl:
            return []
        command = journal_command(journalctl, cutoff)
        journal = host.StreamedCommand(command)
        source = Source('journal', 'journal', max_kills)
        self.collect(source, killlog.scan_chunks(journal.chunks(), page_size=page_size, source='journal'), cutoff)
        err = to_native(journal.err, errors='surrogate_or_replace').strip()
        if journal.rc != 0:
            if 'No journal files were found' not in err:
                self.note('journalctl', err or 'exit status %d' % journal.rc)
            return []
        if 'not seeing messages from other users and the system' in err:
            self.note('journalctl', "only this user's journal is readable")
        return [source]

    # -- the job -----------------------------------------------------------------

    def run(self):
        p = self.params
        if p['max_kills'] < 0:
            self.module.fail_json(msg='max_kills: %d must be 0 or more' % p['max_kills'])
        now = time.time()
        try:
            cutoff = killlog.since_epoch(p['since'], now) if p['since'] else None
        except ValueError as exc:
            self.module.fail_json(msg=to_native(exc))
        if p['metrics_file']:
            self.check_metrics_file(p['metrics_file'])
        sources = p['sources'] or (['files'] if p['log_files'] else list(SOURCES))
        page_size = os.sysconf('SC_PAGE_SIZE')
        path = p['path'].rstrip('/') or '/'
        present = os.path.isdir(path)
        params = self.read_params(path) if present else {}
        memory = self.read_memory()
        mem_total = memory['mem_total_bytes']
        facts = {
            'present': present,
            'path': path,
            'params': params,
            'thresholds': findings.thresholds(params, page_size, mem_total) if present else [],
            'disabled': lmk.is_disabled(params) if present else None,
            'persist': self.read_persist(path, params) if present else {'mechanisms': [], 'matches': None},
            'memory': memory,
            'killers': self.read_killers(),
        }
        processes = self.read_processes()
        facts['protection'] = self.read_protection(facts, processes)
        dated_kills, logs = self.read_kills(sources, cutoff, page_size)
        kills = [kill for _dated, kill in dated_kills]
        returned = kills[len(kills) - p['max_kills']:] if p['max_kills'] else []
        # Read only when a kill needs it: the file is root's, and other runs need not say it was unreadable.
        original = self.read_original(path) if any(k['killer'] == 'lowmemorykiller' for k in kills) else None
        current = params if present else None
        facts.update(kills=returned, logs=logs, unreadable=self.unreadable, page_size=page_size,
                     kill_thresholds=[findings.kill_threshold(k, current, original, page_size, mem_total)
                                      for k in returned])
        init_adj = self.read_int(os.path.join(host.PROC, '1', 'oom_score_adj'))
        facts['findings'] = findings.assess(dict(facts, kills=kills, original_params=original, processes=processes,
                                                 init_oom_score_adj=init_adj, swap_activations=self.swap_activations,
                                                 oomd_started=self.oomd_started(facts['killers'])))
        facts['kills_by_killer'] = kills_by_killer(dated_kills)
        result = {'changed': False, 'lowmemorykiller': facts}
        if p['metrics_file']:
            # Imported here: a module compiles its module_utils at every run (from AnsiballZ's zip).
            from ansible_collections.lowmem.hardening.plugins.module_utils import lmk_metrics as metrics
            window_seconds, since_timestamp = metrics.window(p['since'])
            self.write_metrics(result, metrics.render(facts, facts['kills_by_killer'], window_seconds, since_timestamp))
        self.module.exit_json(**result)

    def check_metrics_file(self, path):
        """Refuse a metrics_file that node_exporter would not read, before anything is read or written."""
        if not path.endswith('.prom'):
            self.module.fail_json(msg='metrics_file: %s must end in .prom, the only files node_exporter\'s textfile '
                                      'collector reads' % path)
        if not os.path.isdir(os.path.dirname(path)):
            self.module.fail_json(msg="metrics_file: the directory %s does not exist; give a file in node_exporter's "
                                      '--collector.textfile.directory' % os.path.dirname(path))
        host.require_root(self.module, 'write metrics_file %s' % path)

    def write_metrics(self, result, text):
        """Write metrics_file (0644, atomically, as node_exporter's textfile collector asks) when it differs."""
        path = self.params['metrics_file']
        with host.locked(os.path.dirname(path)):
            old = host.read_bytes(path, missing=None)
            new = to_bytes(text)
            result.update(changed=old != new, metrics_file=path)
            if self.module._diff:
                result['diff'] = dict(before_header=path, after_header=path, before=to_text(old or b''), after=text)
            if old == new or self.module.check_mode:
                return
            with host.Changes(self.module, result, undone='metrics_file was left as it was.') as changes:
                changes.write_file(path, new, mode=0o644)


def dedup_key(kill):
    return (kill['killer'], kill['pid'], kill['comm'], kill['adj'], kill['rss_kb'], kill['signal'], kill['cgroup'])


def merge(sources):
    """The kills of all sources, oldest first, each kill once.

    Returns [(date or None, kill)]. The same kill shows up in the ring buffer, kern.log, syslog and the
    journal: a kill is dropped when
    another family of sources already holds as many of the same (killer, pid, comm, adj, rss, signal,
    cgroup). Rotated copies of one log are one family, so repeated kills within it all stay.
    """
    seen = {}
    kept = []
    for source in sources:
        here = collections.Counter()
        for kill in source.kills:
            key = dedup_key(kill)
            here[key] += 1
            elsewhere = max([n for family, n in seen.get(key, {}).items() if family != source.family] or [0])
            if here[key] > elsewhere:
                kept.append((source, kill))
        for key, count in here.items():
            families = seen.setdefault(key, {})
            families[source.family] = families.get(source.family, 0) + count
    # Order by date; a kill whose date is unknown keeps its place after the kill before it in its source.
    ordered = []
    last = {}
    for index, (source, kill) in enumerate(kept):
        dated = kill.pop('when')
        when = last.get(source, float('-inf')) if dated is None else dated
        last[source] = when
        ordered.append((when, index, dated, kill))
    ordered.sort(key=lambda item: (item[0], item[1]))
    return [(dated, kill) for _when, _index, dated, kill in ordered]


def kills_by_killer(dated_kills):
    """{killer: {count, newest, newest_timestamp}} of the kills (oldest first, each with its date or None)."""
    found = {}
    for dated, kill in dated_kills:
        entry = found.setdefault(kill['killer'], {'count': 0})
        entry.update(count=entry['count'] + 1, newest=kill, newest_timestamp=dated)
    return found


def build_module():
    return AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default=lmk.DEFAULT_PATH),
            sources=dict(type='list', elements='str', choices=list(SOURCES)),
            log_files=dict(type='list', elements='path'),
            max_kills=dict(type='int', default=50),
            since=dict(type='str'),
            metrics_file=dict(type='path'),
        ),
        supports_check_mode=True,
    )


def main():
    module = build_module()
    LowMemoryKillerInfo(module).run()


if __name__ == '__main__':
    main()
