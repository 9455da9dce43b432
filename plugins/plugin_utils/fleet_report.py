# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report of the role lowmem.hardening.lowmem: the model and its three renderings. No I/O.

The action plugin lowmem.hardening.fleet_report hands each host's variables here (gather, then
build_model), and writes what render_json, render_markdown and render_html return. Nothing here
imports Ansible, so that the tests can load this file on its own.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
from collections.abc import Mapping
from html import escape as _html_escape

SCHEMA_VERSION = 1
# The role's module calls, in the order the role makes them, as lowmem_result names them.
STEPS = ('lowmemorykiller', 'swapfile', 'zram', 'sysctl', 'oom_protect', 'lowmemorykiller_info')

# What became of a host in this play.
#   ok              the role ran to its end, with the report's log reading
#   report_skipped  the role ran to its end without reading the logs (lowmem_report: false, or that task
#                   left out with tags): driver, swap and sysctl as the role's calls returned them, no kills
#   failed          a step of the role failed (or the host failed after the role); what the steps before it
#                   returned is shown
#   unreachable     unreachable, or no result at all: failed before the role ran
#   not_reached     not run yet: a later serial batch
STATUSES = ('ok', 'report_skipped', 'failed', 'unreachable', 'not_reached')

# How much a host needs a look, most first; the HTML and Markdown list hosts in this order and colour them.
SEVERITIES = ('kill', 'warning', 'failed', 'unreachable', 'ok', 'skipped', 'not_reached')
SEVERITY_LABELS = {
    'kill': 'kills', 'warning': 'warnings', 'failed': 'failed', 'unreachable': 'unreachable', 'ok': 'ok',
    'skipped': 'report skipped', 'not_reached': 'not reached yet',
}
# Background colours of the severities (white text on each); the legend shows them all.
SEVERITY_COLOURS = {
    'kill': '#b71c1c', 'warning': '#e65100', 'failed': '#6a1b9a', 'unreachable': '#37474f', 'ok': '#2e7d32',
    'skipped': '#757575', 'not_reached': '#9e9e9e',
}
STATUS_TEXT = {
    'ok': 'ok', 'report_skipped': 'report skipped', 'failed': 'failed', 'unreachable': 'unreachable',
    'not_reached': 'not reached yet',
}
# Width in CSS pixels of the bar chart of a threshold table: the whole width is the host's RAM.
CHART_WIDTH = 240
CHART_ROW = 16
KILL_KEYS = ('time', 'killer', 'pid', 'comm', 'adj', 'rss_kb', 'signal', 'cgroup', 'source', 'lines')
THRESHOLD_KEYS = ('minfree_pages', 'minfree_bytes', 'minfree_mib', 'minfree_percent', 'adj')


# --- what the action plugin hands over ----------------------------------------------------------------

def plain(value):
    """value as plain JSON types (hostvars hand out lazy and tagged containers and strings)."""
    if isinstance(value, Mapping):
        return dict((plain(key) if isinstance(key, str) else str(key), plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)


def gather(hostvars, hosts, active, result_var, registered):
    """{host: {'lowmem_result', 'registered', 'removed'}} for build_model, from hostvars (any mapping of
    host name to a mapping of its variables). active: the hosts still in the play (ansible_play_hosts);
    registered: {step: the variable its result is registered in}."""
    active = set(active)
    gathered = {}
    for name in hosts:
        try:
            host_vars = hostvars[name]
        except KeyError:
            host_vars = {}
        entry = {'lowmem_result': None, 'registered': {}, 'removed': name not in active}
        if result_var in host_vars:
            entry['lowmem_result'] = plain(host_vars[result_var])
        for step, var in sorted(registered.items()):
            if var in host_vars:
                entry['registered'][step] = plain(host_vars[var])
        gathered[name] = entry
    return gathered


# --- the model --------------------------------------------------------------------------------------

def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def _ran(result):
    """Whether a registered result is one of a call that ran (not skipped, failed or unreachable)."""
    result = _dict(result)
    return bool(result) and not (result.get('skipped') or result.get('failed') or result.get('unreachable'))


DETAIL_LENGTH = 160


def _message(result, default):
    """The first line of a result's message, at most DETAIL_LENGTH characters."""
    lines = str(result.get('msg') or default).strip().splitlines() or [default]
    text = lines[0].strip()
    return text if len(text) <= DETAIL_LENGTH else text[:DETAIL_LENGTH - 3].rstrip() + '...'


def classify(lowmem_result, registered, removed):
    """(status, detail) of one host.

    lowmem_result: the host's lowmem_result, or None when it has none. registered: {step: the registered
    result of that step}, for the steps registered on the host (a failed or unreachable one included).
    removed: whether the play has taken the host out (it failed or was unreachable): it is not in
    ansible_play_hosts.
    """
    for step in STEPS:
        result = _dict(registered.get(step))
        if result.get('unreachable'):
            return 'unreachable', 'unreachable at %s: %s' % (step, _message(result, 'no answer'))
    if removed:
        for step in STEPS:
            result = _dict(registered.get(step))
            if result.get('failed'):
                return 'failed', 'failed at %s: %s' % (step, _message(result, 'no message'))
        if lowmem_result is not None:
            return 'failed', 'failed after the role'
        return 'unreachable', 'no result: unreachable, or failed before the role ran'
    if lowmem_result is None:
        return 'not_reached', 'not reached yet (a later batch)'
    if 'lowmemorykiller_info' not in _dict(lowmem_result):
        return 'report_skipped', 'the report did not read the logs (lowmem_report: false, or left out with tags)'
    return 'ok', ''


def _threshold(row):
    return dict((key, _dict(row).get(key)) for key in THRESHOLD_KEYS)


def _kill(kill):
    kill = _dict(kill)
    return dict((key, kill.get(key)) for key in KILL_KEYS) if kill else None


def _kills(info, window):
    """The kills of the window: total, by killer ({count, newest}), the newest, with its threshold."""
    kills = _list(info.get('kills'))
    thresholds = _list(info.get('kill_thresholds'))
    by_killer = _dict(info.get('kills_by_killer'))
    if by_killer:
        counted_from = 'kills_by_killer'
        killers = dict((name, {'count': int(_dict(entry).get('count') or 0),
                               'newest': _kill(_dict(entry).get('newest')),
                               'newest_timestamp': _dict(entry).get('newest_timestamp')})
                       for name, entry in by_killer.items())
    else:
        # Without kills_by_killer (an older lowmemorykiller_info) only the kills returned can be counted:
        # at most max_kills of them, so the counts are a lower bound.
        counted_from = 'kills'
        killers = {}
        for kill in kills:
            entry = killers.setdefault(_dict(kill).get('killer') or 'unknown',
                                       {'count': 0, 'newest': None, 'newest_timestamp': None})
            entry['count'] += 1
            entry['newest'] = _kill(kill)
    newest, newest_threshold = None, None
    if kills:
        newest = _kill(kills[-1])
        newest_threshold = thresholds[len(kills) - 1] if len(thresholds) == len(kills) else None
    elif killers:
        dated = [(entry['newest_timestamp'], name) for name, entry in killers.items()
                 if entry['newest_timestamp'] is not None]
        name = max(dated)[1] if dated else sorted(killers)[0]
        newest = killers[name]['newest']
    return {
        'window': window,
        'total': sum(entry['count'] for entry in killers.values()),
        'by_killer': killers,
        'newest': newest,
        'newest_threshold': dict(_threshold(newest_threshold), table=_dict(newest_threshold).get('table'))
        if newest_threshold else None,
        'counted_from': counted_from,
        'unreadable': [dict(source=u.get('source'), error=u.get('error')) for u in map(_dict, _list(info.get('unreadable')))],
    }


def _protection(info, protect):
    """Each protected service with its level and what each killer does with it, where there are any."""
    entries = []
    for service in map(_dict, _list(info.get('protection'))):
        entries.append({'unit': service.get('unit'), 'level': service.get('level'),
                        'effects': dict((killer, _dict(value).get('effect'))
                                        for killer, value in sorted(_dict(service.get('killers')).items()))})
    if entries or info:
        return entries
    for service in map(_dict, _list(protect.get('services'))):
        entries.append({'unit': service.get('unit'), 'level': service.get('level'),
                        'effects': dict((killer, service.get('level')) for killer in _list(service.get('honoured_by')))})
    return entries


ZRAM_KEYS = ('device', 'method', 'size', 'algorithm', 'priority', 'active')
ZRAM_STATS_KEYS = ('orig_data_size', 'compr_data_size', 'mem_used_total', 'ratio')


def _zram(result):
    """zram as lowmem.hardening.zram returned it: the device, its method, size, algorithm, priority and whether
    it is active swap, and what it held (mm_stat: bytes stored, compressed, RAM used, ratio) when it has a
    device. method is None after state=absent; stats is None without a device."""
    stats = _dict(result.get('stats'))
    zram = dict((key, result.get(key)) for key in ZRAM_KEYS)
    zram['stats'] = dict((key, stats.get(key)) for key in ZRAM_STATS_KEYS) if stats else None
    return zram


def host_model(name, status, detail, results, window):
    """One host of the report, from what its module calls returned (results: {step: result})."""
    lmk = _dict(results.get('lowmemorykiller')) if _ran(results.get('lowmemorykiller')) else {}
    info_result = results.get('lowmemorykiller_info')
    info = _dict(_dict(info_result).get('lowmemorykiller')) if _ran(info_result) else {}
    swapfile = _dict(results.get('swapfile')) if _ran(results.get('swapfile')) else {}
    zram = _dict(results.get('zram')) if _ran(results.get('zram')) else {}
    sysctl = _dict(results.get('sysctl')) if _ran(results.get('sysctl')) else {}
    protect = _dict(results.get('oom_protect')) if _ran(results.get('oom_protect')) else {}
    memory = _dict(info.get('memory'))

    # The report's read (after the changes) first, else what the lowmemorykiller call returned.
    source = info if 'present' in info else lmk
    present = source.get('present')
    disabled = source.get('disabled') if present else None
    if present is None:
        state = 'unknown'
    elif not present:
        state = 'absent'
    else:
        state = 'disabled' if disabled else 'active'
    if info.get('persist'):
        persisted = [m.get('method') for m in map(_dict, _list(_dict(info.get('persist')).get('mechanisms')))]
    else:
        persisted = [_dict(lmk.get('persist')).get('method')] if _dict(lmk.get('persist')).get('method') else []
    mem_total = memory.get('mem_total_bytes') or lmk.get('mem_total_bytes')

    findings = {'warning': [], 'info': []}
    for finding in map(_dict, _list(info.get('findings'))):
        findings.setdefault(finding.get('severity') or 'info', []).append(
            {'code': finding.get('code'), 'message': finding.get('message')})

    host = {
        'name': name,
        'status': status,
        'detail': detail,
        'lowmemorykiller': {
            'present': present,
            'disabled': disabled,
            'state': state,
            'params': _dict(source.get('params') if 'params' in source else source.get('after')),
            'thresholds': [_threshold(row) for row in _list(source.get('thresholds'))],
            'persisted_by': persisted,
        },
        'memory': {'mem_total_bytes': mem_total, 'mem_available_bytes': memory.get('mem_available_bytes')},
        'swap': {
            'file': dict((key, swapfile.get(key)) for key in ('path', 'size', 'active', 'fstab')) if swapfile else None,
            'total_bytes': memory.get('swap_total_bytes'),
            'used_bytes': memory.get('swap_used_bytes'),
            'areas': [dict((key, area.get(key)) for key in ('filename', 'size_bytes', 'used_bytes'))
                      for area in map(_dict, _list(memory.get('swaps')))],
        },
        'zram': _zram(zram) if zram else None,
        'sysctl': {'file': sysctl.get('file'), 'values': _dict(sysctl.get('values')),
                   'not_applied': _list(sysctl.get('not_applied'))} if sysctl else None,
        'protection': _protection(info, protect),
        'kills': _kills(info, window) if info else None,
        'findings': findings if info else None,
        'changed': [step for step in STEPS if _dict(results.get(step)).get('changed')],
    }
    host['severity'] = severity(host)
    return host


def severity(host):
    status = host['status']
    if status in ('failed', 'unreachable', 'not_reached'):
        return status
    if host['kills'] and host['kills']['total']:
        return 'kill'
    if host['findings'] and host['findings']['warning']:
        return 'warning'
    return 'skipped' if status == 'report_skipped' else 'ok'


def attention_order(hosts):
    """The hosts that need a look first: kills, warnings, failed, unreachable, ok, skipped, not reached;
    within one severity, most kills and warnings first, then by name."""
    def key(host):
        kills = host['kills']['total'] if host['kills'] else 0
        warnings = len(host['findings']['warning']) if host['findings'] else 0
        return (SEVERITIES.index(host['severity']), -kills, -warnings, host['name'])
    return sorted(hosts, key=key)


def build_model(hosts, gathered, window=None, generated=None, limit=None, check_mode=False, play=None):
    """The whole report.

    hosts: every host of the play, in the play's order (ansible_play_hosts_all, which --limit narrows).
    gathered: {host: {'lowmem_result': dict or None, 'registered': {step: result}, 'removed': bool}}; a
    host missing from it has no result at all and has left the play (unreachable).
    """
    entries = []
    for name in hosts:
        data = _dict(gathered.get(name))
        lowmem_result = data.get('lowmem_result')
        lowmem_result = lowmem_result if isinstance(lowmem_result, dict) else None
        registered = _dict(data.get('registered'))
        status, detail = classify(lowmem_result, registered, bool(data.get('removed')) if data else True)
        if lowmem_result is not None and status != 'not_reached':
            results = lowmem_result
        elif status == 'not_reached':
            results = {}
        else:
            results = dict((step, result) for step, result in registered.items() if _ran(result))
        entries.append(host_model(name, status, detail, results, window))
    counts = {'status': dict((s, 0) for s in STATUSES), 'severity': dict((s, 0) for s in SEVERITIES)}
    for host in entries:
        counts['status'][host['status']] += 1
        counts['severity'][host['severity']] += 1
    return {
        'schema': SCHEMA_VERSION,
        'generated': generated,
        'play': play,
        'limit': limit,
        'check_mode': bool(check_mode),
        'window': window,
        'complete': counts['status']['not_reached'] == 0,
        'counts': counts,
        'hosts': entries,
    }


# --- words shared by the Markdown and the HTML ------------------------------------------------------

def format_size(nbytes):
    """1.5 GiB, 64 MiB, 4 KiB, 512 B; '?' when unknown."""
    if nbytes is None:
        return '?'
    for unit, size in (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if abs(nbytes) >= size:
            return ('%.1f' % (float(nbytes) / size)).rstrip('0').rstrip('.') + ' ' + unit
    return '%d B' % nbytes


def _percent(value):
    if value is None:
        return None
    return '<0.1%' if 0 < value < 0.1 else ('%.1f' % value).rstrip('0').rstrip('.') + '%'


def driver_text(host):
    lmk = host['lowmemorykiller']
    words = {'absent': 'not present', 'disabled': 'disabled', 'active': 'ACTIVE', 'unknown': 'not checked'}
    text = words[lmk['state']]
    if lmk['state'] in ('disabled', 'active'):
        text += ', %s' % ('persisted by ' + ', '.join(lmk['persisted_by']) if lmk['persisted_by'] else 'not persisted')
    return text


def thresholds_text(host):
    rows = []
    for row in host['lowmemorykiller']['thresholds']:
        share = _percent(row['minfree_percent'])
        rows.append('%s%s adj %s' % (format_size(row['minfree_bytes']), ' (%s)' % share if share else '', row['adj']))
    return ', '.join(rows)


def swap_text(host):
    swap = host['swap']
    parts = []
    if swap['file']:
        parts.append('%s %s, %s' % (swap['file']['path'], format_size(swap['file']['size']),
                                    'active' if swap['file']['active'] else 'not active'))
    if swap['total_bytes'] is not None:
        parts.append('swap in use %s of %s' % (format_size(swap['used_bytes']), format_size(swap['total_bytes'])))
    return '; '.join(parts) or 'not checked'


def zram_text(host):
    """'/dev/zram0 235 MiB zstd, priority 100, generator; 3.1:1 (150 MiB in 48.4 MiB)', 'none' or ''."""
    zram = host.get('zram')
    if not zram:
        return ''
    if not zram['active']:
        return 'none'
    text = '%s %s %s, priority %s, %s' % (zram['device'], format_size(zram['size']), zram['algorithm'] or
                                          'default algorithm', zram['priority'], zram['method'])
    stats = zram['stats'] or {}
    if stats.get('ratio') is not None:
        text += '; %s:1 (%s in %s)' % (('%.2f' % stats['ratio']).rstrip('0').rstrip('.'),
                                       format_size(stats['orig_data_size']), format_size(stats['compr_data_size']))
    return text


def sysctl_text(host):
    sysctl = host['sysctl']
    if not sysctl:
        return 'not checked'
    text = ', '.join('%s=%s' % item for item in sorted(sysctl['values'].items()))
    if sysctl['not_applied']:
        text += ' (not applied at runtime: %s)' % ', '.join(sysctl['not_applied'])
    return text


def protection_text(host):
    return ', '.join('%s (%s)' % (p['unit'], p['level']) for p in host['protection'])


def kill_text(kill, threshold=None):
    if not kill:
        return ''
    text = '%s killed %s%s at %s' % (kill['killer'], kill['comm'] or '?',
                                     ' (pid %s)' % kill['pid'] if kill['pid'] is not None else '', kill['time'] or '?')
    if threshold and threshold.get('minfree_bytes') is not None:
        text += ', allowed by minfree %s for adj >= %s (%s table)' % (
            format_size(threshold['minfree_bytes']), threshold['adj'], threshold.get('table'))
    return text


def kills_text(host):
    kills = host['kills']
    if kills is None:
        return 'not looked for'
    if not kills['total']:
        return 'none'
    lower_bound = '>=' if kills['counted_from'] == 'kills' else ''
    return ', '.join('%s %s%d' % (name, lower_bound, entry['count']) for name, entry in sorted(kills['by_killer'].items()))


def _title(model):
    counts = model['counts']['status']
    return '%d host%s: %s' % (len(model['hosts']), '' if len(model['hosts']) == 1 else 's',
                              ', '.join('%d %s' % (counts[s], STATUS_TEXT[s]) for s in STATUSES if counts[s]) or 'none')


def _about(model):
    parts = ['generated %s' % (model['generated'] or '?')]
    parts.append('kills since %s' % model['window'] if model['window'] else 'kills in all the logs')
    if model['limit']:
        parts.append('--limit %s' % model['limit'])
    if model['check_mode']:
        parts.append('check mode')
    if not model['complete']:
        parts.append('incomplete: %d host(s) not reached yet' % model['counts']['status']['not_reached'])
    return '; '.join(parts)


# --- JSON ---------------------------------------------------------------------------------------------

def render_json(model):
    return json.dumps(model, indent=2, sort_keys=True, default=str) + '\n'


# --- Markdown -----------------------------------------------------------------------------------------

def _md(text):
    return str(text).replace('\\', '\\\\').replace('|', '\\|').replace('\n', ' ')


def render_markdown(model):
    lines = ['# lowmem fleet report', '', '%s. %s.' % (_title(model), _about(model)), '',
             '| host | severity | status | lowmemorykiller | thresholds | RAM | swap | zram | sysctl | protected '
             '| kills | newest kill | warnings |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for host in attention_order(model['hosts']):
        kills = host['kills'] or {}
        warnings = (host['findings'] or {}).get('warning', [])
        status = STATUS_TEXT[host['status']] + (': ' + host['detail'] if host['detail'] else '')
        cells = [host['name'], SEVERITY_LABELS[host['severity']], status, driver_text(host), thresholds_text(host),
                 format_size(host['memory']['mem_total_bytes']) if host['memory']['mem_total_bytes'] else '',
                 swap_text(host), zram_text(host), sysctl_text(host), protection_text(host), kills_text(host),
                 kill_text(kills.get('newest'), kills.get('newest_threshold')),
                 ', '.join(sorted(set(w['code'] for w in warnings)))]
        lines.append('| %s |' % ' | '.join(_md(cell) for cell in cells))
    return '\n'.join(lines) + '\n'


# --- HTML ---------------------------------------------------------------------------------------------

def _h(text):
    return _html_escape('' if text is None else str(text), quote=True)


CSS = '''
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; color: #212121; background: #fafafa; }
h1 { font-size: 1.4em; margin: 0 0 .2em; }
.about { color: #555; margin: 0 0 1em; }
.legend span, .badge { display: inline-block; color: #fff; border-radius: 3px; padding: 1px 7px; margin-right: 4px; font-size: 12px; }
.hosts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 10px; margin-top: 1em; }
.host { background: #fff; border: 1px solid #ddd; border-left: 8px solid #9e9e9e; border-radius: 4px; padding: 8px 10px; }
.host h2 { font-size: 1.05em; margin: 0 0 4px; display: flex; justify-content: space-between; align-items: center; }
.host dl { display: grid; grid-template-columns: 6.5em 1fr; margin: 0; gap: 1px 8px; font-size: 13px; }
.host dt { color: #666; }
.host dd { margin: 0; overflow-wrap: anywhere; }
.host ul { margin: 4px 0 0; padding-left: 1.2em; font-size: 12px; }
.host li.warning { color: #bf360c; }
.detail { color: #555; font-size: 12px; }
svg.thresholds { display: block; margin: 4px 0; }
svg.thresholds .ram { fill: #eceff1; }
svg.thresholds .bar { fill: #ef6c00; }
svg.thresholds text { font-size: 10px; fill: #333; }
table.kills { border-collapse: collapse; font-size: 12px; }
table.kills td { padding: 0 6px 0 0; vertical-align: top; }
table.kills td:first-child { white-space: nowrap; }
.overview { display: flex; flex-wrap: wrap; gap: 3px; margin-top: .6em; }
.overview a { color: #fff; text-decoration: none; border-radius: 3px; padding: 1px 6px; font-size: 12px; }
'''


def _severity_css():
    return ''.join('.sev-%s .badge, .legend .sev-%s, .overview a.sev-%s { background: %s; }\n'
                   '.host.sev-%s { border-left-color: %s; }\n'
                   % (name, name, name, colour, name, colour) for name, colour in sorted(SEVERITY_COLOURS.items()))


def threshold_chart(host):
    """The threshold table as bars against the host's RAM: the chart's width is all of RAM, each bar one
    row's minfree (at least 1 px, so that a row of one page still shows). '' without a table or RAM."""
    rows = host['lowmemorykiller']['thresholds']
    total = host['memory']['mem_total_bytes']
    if not rows or not total:
        return ''
    label_width = 78
    height = CHART_ROW * len(rows)
    parts = ['<svg class="thresholds" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'viewBox="0 0 %d %d" role="img" aria-label="thresholds of %s against %s of RAM">'
             % (label_width + CHART_WIDTH + 70, height, label_width + CHART_WIDTH + 70, height, _h(host['name']),
                _h(format_size(total)))]
    for index, row in enumerate(rows):
        y = index * CHART_ROW
        share = float(row['minfree_bytes'] or 0) / total
        width = max(1.0, round(CHART_WIDTH * share, 2))
        parts.append('<text x="0" y="%d">adj &gt;= %s</text>' % (y + 11, _h(row['adj'])))
        parts.append('<rect class="ram" x="%d" y="%d" width="%d" height="%d"/>'
                     % (label_width, y + 2, CHART_WIDTH, CHART_ROW - 4))
        parts.append('<rect class="bar" x="%d" y="%d" width="%s" height="%d" data-minfree-bytes="%s" '
                     'data-ram-bytes="%s"><title>minfree %s (%s of RAM) for adj &gt;= %s</title></rect>'
                     % (label_width, y + 2, width, CHART_ROW - 4, _h(row['minfree_bytes']), _h(total),
                        _h(format_size(row['minfree_bytes'])), _h(_percent(100.0 * share) or '?'), _h(row['adj'])))
        parts.append('<text x="%d" y="%d">%s</text>' % (label_width + CHART_WIDTH + 4, y + 11,
                                                        _h(format_size(row['minfree_bytes']))))
    parts.append('</svg>')
    return ''.join(parts)


def _host_html(host):
    kills = host['kills']
    items = [('status', STATUS_TEXT[host['status']]), ('driver', driver_text(host))]
    out = ['<section class="host sev-%s" id="host-%s" data-host="%s" data-severity="%s" data-status="%s">'
           % (host['severity'], _h(host['name']), _h(host['name']), host['severity'], host['status']),
           '<h2><span class="name">%s</span><span class="badge">%s</span></h2>'
           % (_h(host['name']), _h(SEVERITY_LABELS[host['severity']]))]
    if host['detail']:
        out.append('<div class="detail">%s</div>' % _h(host['detail']))
    chart = threshold_chart(host)
    out.append('<dl>')
    for term, value in items:
        out.append('<dt>%s</dt><dd>%s</dd>' % (_h(term), _h(value)))
    if host['lowmemorykiller']['thresholds']:
        out.append('<dt>thresholds</dt><dd>%s</dd>' % (chart or _h(thresholds_text(host))))
    if host['memory']['mem_total_bytes']:
        out.append('<dt>RAM</dt><dd>%s</dd>' % _h(format_size(host['memory']['mem_total_bytes'])))
    out.append('<dt>swap</dt><dd>%s</dd>' % _h(swap_text(host)))
    if host['zram']:
        out.append('<dt>zram</dt><dd>%s</dd>' % _h(zram_text(host)))
    out.append('<dt>sysctl</dt><dd>%s</dd>' % _h(sysctl_text(host)))
    if host['protection']:
        out.append('<dt>protected</dt><dd>%s</dd>' % _h(protection_text(host)))
    if kills is not None:
        out.append('<dt>kills</dt><dd>')
        if kills['total']:
            out.append('<table class="kills">%s</table>' % ''.join(
                '<tr><td>%s</td><td>%s%d</td><td>%s</td></tr>'
                % (_h(name), '&ge;' if kills['counted_from'] == 'kills' else '', entry['count'],
                   _h(kill_text(entry['newest']))) for name, entry in sorted(kills['by_killer'].items())))
            out.append('<div>newest: %s</div>' % _h(kill_text(kills['newest'], kills['newest_threshold'])))
        else:
            out.append('none%s' % (' since %s' % _h(kills['window']) if kills['window'] else ''))
        if kills['unreadable']:
            out.append('<div class="detail">not readable: %s</div>'
                       % _h(', '.join(u['source'] or '?' for u in kills['unreadable'])))
        out.append('</dd>')
    out.append('</dl>')
    findings = host['findings']
    if findings and (findings['warning'] or findings['info']):
        out.append('<ul class="findings">')
        for level in ('warning', 'info'):
            for finding in findings[level]:
                out.append('<li class="%s"><b>%s</b>: %s</li>' % (level, _h(finding['code']), _h(finding['message'])))
        out.append('</ul>')
    out.append('</section>')
    return '\n'.join(out)


def render_html(model):
    hosts = attention_order(model['hosts'])
    counts = model['counts']['severity']
    legend = ''.join('<span class="sev-%s">%s %d</span>' % (name, _h(SEVERITY_LABELS[name]), counts[name])
                     for name in SEVERITIES)
    return '\n'.join([
        '<!DOCTYPE html>',
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<title>lowmem fleet report: %s</title>' % _h(_title(model)),
        '<style>%s%s</style>' % (CSS, _severity_css()),
        '</head><body>',
        '<h1>lowmem fleet report</h1>',
        '<p class="about">%s. %s.</p>' % (_h(_title(model)), _h(_about(model))),
        '<div class="legend">%s</div>' % legend,
        # Every host at a glance, in the same order, each a link to its section below.
        '<nav class="overview">%s</nav>' % ''.join(
            '<a class="sev-%s" href="#host-%s" title="%s">%s</a>'
            % (host['severity'], _h(host['name']), _h(SEVERITY_LABELS[host['severity']]), _h(host['name']))
            for host in hosts),
        '<main class="hosts">',
        '\n'.join(_host_html(host) for host in hosts),
        '</main>',
        '</body></html>',
        '',
    ])
