# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measurement 6: lowmemorykiller_info on a host with big logs (about 1 GiB of kernel log text in
kern.log and its rotations, and a 1 GiB journal) next to the grep floor, and its own run next to
ping's on an ordinary container."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import hashlib
import json
import os
import shlex
import shutil
import statistics
import sys
import time

from runner import BUILD, REPO, BenchError, compared, counted, interleave, summary
from testbed import IMAGE_SYSTEMD, PODMAN_HOST
from measure_killlog import GREP_PATTERN, KILLLOG_SCAN

BIGHOST = 'bench/bighost.py'
CACHE = os.path.join(BUILD, 'bighost')
SEED = 1
# A cache older than this is built again: its dates must stay well inside a 30-day window.
CACHE_DAYS = 20
INFO = ['-m', 'lowmem.hardening.lowmemorykiller_info']
INFO_SINCE = INFO + ['-a', 'since=30d']
PING = ['-m', 'ansible.builtin.ping']
KEPT = '/root/lowmem-bench'
# Runs inside the container: one command, timed there, stopped after a timeout (argv[1] seconds); its
# result's `logs` (kills per source) when it prints the module's JSON, else its output's tail; and the
# largest max RSS of its processes (RUSAGE_CHILDREN: the module and the journalctl it waits for).
TIMER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
try:
    out = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=float(sys.argv[1])).stdout
    rc, seconds = 0, time.perf_counter() - started
except subprocess.CalledProcessError as exc:
    out, rc, seconds = exc.output, exc.returncode, time.perf_counter() - started
except subprocess.TimeoutExpired as exc:
    out, rc, seconds = exc.output or b'', None, None
result = dict(seconds=seconds, rc=rc, tail=out[-2000:].decode('utf-8', 'replace'),
              maxrss_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
try:
    result['logs'] = json.loads(out)['lowmemorykiller']['logs']
except (ValueError, KeyError, TypeError):
    pass
print(json.dumps(result))
"""


def measure(bench):
    sizes = bench.sizes
    own, kept = own_runs(bench, sizes['per_call'])
    meta = cached_host(bench, sizes['bighost_mb'], sizes['bighost_journal_mb'])
    name = bench.name('m6-big')
    cache = meta['directory']
    volumes = ['%s:/etc/machine-id:ro' % os.path.join(cache, 'machine-id')]
    volumes += ['%s:/var/log/journal/%s/%s:ro' % (os.path.join(cache, 'journal', journal), meta['machine_id'], journal)
                for journal in meta['journal_files']]
    volumes += ['%s:/var/log/%s:ro' % (os.path.join(cache, entry['name']), entry['name']) for entry in meta['files']]
    bench.start(name, IMAGE_SYSTEMD, 'systemd', volumes=volumes)
    bench.wait_booted([name], systemd=True)
    produced = host_sizes(bench, name, meta)
    # The module's AnsiballZ files, kept from ad hoc calls on the ordinary container (the files hold the
    # module and its arguments, nothing of the host): a call on the big host only to get them would
    # cost as much as a timed run.
    bench.shell.run(['podman', 'cp', kept, '%s:%s' % (name, KEPT)])
    # Logs and journal into the page cache, as the ad hoc calls of a real run would have put them.
    bench.shell.run(['podman', 'exec', name, 'sh', '-c', 'cat /var/log/kern.log* /var/log/journal/*/*.journal >/dev/null'])

    plain = ['/var/log/' + entry['name'] for entry in meta['files'] if not entry['name'].endswith('.gz')]
    packed = ['/var/log/' + entry['name'] for entry in meta['files'] if entry['name'].endswith('.gz')]
    pattern = shlex.quote(GREP_PATTERN)
    files_floor = 'grep -cE %s %s' % (pattern, ' '.join(plain))
    if packed:
        files_floor += '; zcat %s | grep -cE %s' % (' '.join(packed), pattern)
    journal_floor = 'journalctl -k --no-pager | grep -cE %s' % pattern
    commands = dict(info=['/usr/bin/python3', '%s/info-info.py' % KEPT],
                    since=['/usr/bin/python3', '%s/info-since.py' % KEPT],
                    grep_files=['sh', '-c', files_floor], grep_journal=['sh', '-c', journal_floor])
    rss, outputs, found, stopped = {}, {}, {}, {}
    limit = sizes['bighost_timeout']

    def in_container(key):
        def run():
            if key in stopped:
                return None
            outcome = bench.shell.run(['podman', 'exec', name, '/usr/bin/python3', '-c', TIMER, '%g' % limit]
                                      + commands[key], timed=True)
            result = json.loads(outcome.out)
            if result['seconds'] is None:
                stopped[key] = limit
                print('# %s took more than %g s: stopped, not run again' % (key, limit), flush=True)
                return None
            # grep says 1 when it counts nothing, which a tiny log may give.
            if result['rc'] not in ((0,) if key in ('info', 'since') else (0, 1)):
                raise BenchError('%s in %s failed (rc=%s): %s' % (commands[key], name, result['rc'], result['tail']))
            rss[key] = max(rss.get(key, 0), result['maxrss_kb'])
            outputs[key] = result['tail']
            if 'logs' in result:
                found[key] = result['logs']
            return result['seconds']
        return run
    samples = interleave(sizes['bighost_runs'], [(key, in_container(key)) for key in
                                                 ('info', 'since', 'grep_files', 'grep_journal')])
    samples = dict((key, [value for value in values if value is not None]) for key, values in samples.items())
    bench.remove_containers([name])
    floor = [files + journal for files, journal in zip(samples['grep_files'], samples['grep_journal'])]
    floor_label = 'grep floor: log files (zcat for .gz) + journalctl -k, both piped to grep -cE'

    def info_row(what, key, label):
        if key in stopped:
            return counted(what, label, 'did not finish within %g s (stopped; not run again)' % stopped[key],
                           floor_label, '%.3g (%.3g–%.3g)' % (statistics.median(floor), min(floor), max(floor)))
        return compared(what, label, summary(samples[key]), floor_label, summary(floor))

    rows = [
        info_row('big host: lowmemorykiller_info own run, no since, vs the grep floor (s)', 'info',
                 'lowmemorykiller_info'),
        info_row('big host: lowmemorykiller_info own run, since=30d, vs the grep floor (s)', 'since',
                 'lowmemorykiller_info since=30d'),
        dict(what='of which the floor: grep over the log files, zcat for .gz (s)', ours_label=files_floor,
             ours=summary(samples['grep_files'])),
        dict(what='of which the floor: journalctl -k piped to grep (s)', ours_label=journal_floor,
             ours=summary(samples['grep_journal'])),
        counted('big host: kills found per source (no since / since=30d)', 'lowmemorykiller_info',
                '%s / %s' % (kills_found(found.get('info')), kills_found(found.get('since'))), 'grep -cE counts',
                '%s; journal %s' % (' '.join(outputs['grep_files'].split()), outputs['grep_journal'].strip())),
        counted('big host: max RSS of the largest process (MiB)', 'lowmemorykiller_info no since / since=30d',
                '%s / %s' % (rss_mib(rss, 'info'), rss_mib(rss, 'since')), 'grep floor (files / journal)',
                '%s / %s' % (rss_mib(rss, 'grep_files'), rss_mib(rss, 'grep_journal'))),
        counted('big host: what it holds', 'as built', produced, '', ''),
        compared('ordinary container: the module\'s own run, python AnsiballZ_*.py (s)', 'lowmemorykiller_info',
                 summary(own['lowmemorykiller_info']), 'ansible.builtin.ping', summary(own['ping'])),
    ]
    parts = dict(big_host=ratio_met(rows[0], 2), big_host_since_30d=ratio_met(rows[1], 2),
                 own_run=ratio_met(rows[7], 1.1))
    return dict(
        id='6', title='lowmemorykiller_info on a host with big logs (%s) vs the grep floor, and its own run vs '
                      'ping\'s' % short_size(meta),
        target='info <= 2x the grep floor on the big host (both calls); its own run <= 1.1x ping\'s on an ordinary '
               'container',
        met=all(parts.values()), met_parts=parts, rows=rows, big_host=dict(meta, produced=produced),
        notes=notes(meta, rows, stopped),
    )


def ratio_met(row, limit):
    return row.get('ratio') is not None and row['ratio'] <= limit


def rss_mib(rss, key):
    return '%.0f' % (rss[key] / 1024.0) if key in rss else 'n/a'


def own_runs(bench, rounds):
    """The info module's and ping's own runs on an ordinary container (systemd image, fake sysfs), as in
    measurement 1; and the info module's AnsiballZ files (no since, since=30d) for the big host, kept in
    a directory of the run. Returns (samples, that directory)."""
    name = bench.name('m6-plain')
    bench.start(name, IMAGE_SYSTEMD, 'systemd')
    bench.wait_booted([name], systemd=True)
    inventory = bench.inventory('m6-plain.yml', {'bench': {name: {}}}, PODMAN_HOST)
    target = ['ansible', name, '-i', inventory]
    samples = bench.module_runs_on_host(name, [target + INFO, target + PING], rounds)
    for key, module_args in (('info', INFO), ('since', INFO_SINCE)):
        bench.shell.run(target + module_args, extra_env={'ANSIBLE_KEEP_REMOTE_FILES': '1'})
        bench.shell.run(['podman', 'exec', name, 'sh', '-c',
                         'mkdir -p "$0" && mv /root/.ansible/tmp/ansible-tmp-*/AnsiballZ_lowmemorykiller_info.py '
                         '"$0/info-$1.py" && rm -rf /root/.ansible/tmp/ansible-tmp-*', KEPT, key])
    kept = os.path.join(bench.run_dir, 'm6-kept')
    bench.shell.run(['podman', 'cp', '%s:%s' % (name, KEPT), kept])
    bench.remove_containers([name])
    return samples, kept


def cached_host(bench, megabytes, journal_mb):
    """The big host's logs and journal, from build/bench/bighost/ (keyed by size and seed), built again
    when missing, older than CACHE_DAYS, made under another boot of this machine or by another version
    of bench/bighost.py or bench/killlog_scan.py."""
    key = '%gMB-journal%gMB-seed%d' % (megabytes, journal_mb, SEED)
    directory = os.path.join(CACHE, key)
    with open('/proc/sys/kernel/random/boot_id') as boot:
        boot_id = boot.read().strip().replace('-', '')
    generator = hashlib.sha256()
    for name in (BIGHOST, KILLLOG_SCAN):
        with open(os.path.join(REPO, name), 'rb') as source:
            generator.update(source.read())
    generator = generator.hexdigest()[:16]
    meta = None
    if os.path.exists(os.path.join(directory, 'meta.json')):
        with open(os.path.join(directory, 'meta.json')) as source:
            meta = json.load(source)
        if (meta.get('boot_id'), meta.get('generator')) != (boot_id, generator) or \
                time.time() - meta['built'] > CACHE_DAYS * 86400:
            print('# %s: built under another boot, by other generator code or more than %d days ago: building it '
                  'again' % (directory, CACHE_DAYS))
            meta = None
    if meta is None:
        # Built in the run's directory (removed with it, also by the next run when this one is killed),
        # then moved into place.
        building = os.path.join(bench.run_dir, 'bighost-' + key)
        outcome = bench.shell.run([sys.executable, BIGHOST, 'build', building, '--mb', '%g' % megabytes,
                                   '--journal-mb', '%g' % journal_mb, '--seed', str(SEED)])
        print(outcome.out[-3000:] + outcome.err[-1000:])
        with open(os.path.join(building, 'meta.json')) as source:
            built = json.load(source)
        built['generator'] = generator
        with open(os.path.join(building, 'meta.json'), 'w') as out:
            json.dump(built, out, indent=2, sort_keys=True)
        with open(os.path.join(building, 'machine-id'), 'w') as out:
            out.write(built['machine_id'] + '\n')
        os.makedirs(CACHE, exist_ok=True)
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.rename(building, directory)
        with open(os.path.join(directory, 'meta.json')) as source:
            meta = json.load(source)
    else:
        print('# the big host: cached in %s (built %s, in %s s)' % (
            directory, time.strftime('%Y-%m-%d %H:%M', time.localtime(meta['built'])),
            sum(meta['seconds'].values())))
    meta['directory'] = directory
    return meta


def host_sizes(bench, name, meta):
    """What the container holds, as du and wc see it there."""
    names = ' '.join('/var/log/' + entry['name'] for entry in meta['files'])
    journal = bench.shell.run(['podman', 'exec', name, 'du', '-s', '--block-size=1', '/var/log/journal']).out.split()[0]
    logs = bench.shell.run(['podman', 'exec', name, 'sh', '-c', 'du -c --block-size=1 $0 | tail -1', names]).out.split()[0]
    entries = bench.shell.run(['podman', 'exec', name, 'sh', '-c', 'journalctl -k --no-pager | wc -l']).out.strip()
    text = sum(entry['text_bytes'] for entry in meta['files'])
    return ('/var/log/journal: %s MiB (du; %s lines from journalctl -k, %d entries written); kern.log and %d '
            'rotations: %s MiB on disk (du), %.0f MiB of text, %d lines, %d kill records'
            % (mib(journal), entries, meta['journal_entries'], len(meta['files']) - 1, mib(logs), text / 1048576.0,
               sum(entry['lines'] for entry in meta['files']), sum(entry['kill_records'] for entry in meta['files'])))


def mib(size):
    return '%.0f' % (int(size) / 1048576.0) if int(size) >= 10 * 1048576 else '%.1f' % (int(size) / 1048576.0)


def short_size(meta):
    return '%g MiB of kernel log text, %s MiB of journal' % (meta['megabytes'], mib(meta['journal_bytes']))


def kills_found(logs):
    """'source kills, ...' from the module's result (lowmemorykiller.logs)."""
    if logs is None:
        return 'n/a'
    return ', '.join('%s %d' % (entry['source'], entry['kills']) + (' (%d undated)' % entry['undated']
                                                                    if entry.get('undated') else '')
                     for entry in logs)


def notes(meta, rows, stopped):
    span = [min(entry['first'] for entry in meta['files']), max(entry['last'] for entry in meta['files'])]
    found = ['The big host: kern.log and its rotations written by bench/killlog_scan.py generate (ordinary kernel '
             'lines, 0.1%% kill records of every format, seed %d, clock moved to %s to %s UTC), and a journal written '
             'by systemd-journal-remote from the newest of the same lines (kernel transport, this boot; the daemon '
             'lines under their identifiers, an earlyoom status line every 500 entries), all bind-mounted read-only '
             'into a systemd container; built in %.0f s, cached in build/bench/bighost/. Every date is within 30 '
             'days, so since=30d still reads everything. Times are taken inside the container, from the page cache '
             '(read once before); the module\'s time is its AnsiballZ file (kept from an ad hoc call) run with python '
             '(no transport). The floor leaves out journalctl\'s --identifier call and dmesg, which the module also '
             'makes.' % (meta['seed'], time.strftime('%Y-%m-%d', time.gmtime(span[0])),
                         time.strftime('%Y-%m-%d', time.gmtime(span[1])), sum(meta['seconds'].values()))]
    for key, row in zip(('info', 'since'), rows[:2]):
        if key in stopped:
            found.append('Missed (%s): stopped after %g s; the grep floor takes %.2f s.' % (
                row['ours_label'], stopped[key], statistics.median(
                    [a + b for a, b in zip(rows[2]['ours']['samples'], rows[3]['ours']['samples'])])))
        elif row['ratio'] > 2:
            found.append('Missed (%s): %.2f s against a floor of %.2f s, %.1fx.' % (
                row['ours_label'], row['ours']['median'], row['baseline']['median'], row['ratio']))
    if rows[7]['ratio'] > 1.1:
        found.append('Own run missed: %+.0f ms over ping\'s (%.2fx).' % (
            (rows[7]['ours']['median'] - rows[7]['baseline']['median']) * 1000, rows[7]['ratio']))
    return found
