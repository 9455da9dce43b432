# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report of converge.yml's run: lowmem-report.json, .md and .html as written on the controller, the
HTML as a headless chromium renders it (browser.py), and a 30-host report from synthetic data the same way.

Hosts (molecule.yml, inventory/hosts.yml): -fleet-kills (driver active, kills in kern.log), -fleet-disabled (defaults),
-fleet-no-report (no driver, lowmem_report: false), -fleet-failed (a minfree refused), lowmem-fleet-never-created.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import stat

import pytest

import browser
import synthetic

EPHEMERAL = os.environ['MOLECULE_EPHEMERAL_DIRECTORY']
REPORT = os.path.join(EPHEMERAL, 'lowmem-report')
UNREACHABLE = 'lowmem-fleet-never-created'
FILES = ('lowmem-report.json', 'lowmem-report.md', 'lowmem-report.html')
DEFAULT_MINFREE = [1536, 2048, 4096, 16384]
DEFAULT_ADJ = [0, 1, 6, 12]
# The colour of the severity 'kill' (plugins/plugin_utils/fleet_report.py SEVERITY_COLOURS), as CSS computes it.
KILL_RGB = 'rgb(183, 28, 28)'


def kind(name):
    """The role of a host in the scenario, from its name."""
    if name == UNREACHABLE:
        return 'unreachable'
    return name.rsplit('-fleet-', 1)[1]


@pytest.fixture(scope='module')
def report():
    with open(os.path.join(REPORT, 'lowmem-report.json')) as handle:
        data = json.load(handle)
    return data


@pytest.fixture(scope='module')
def hosts(report):
    return dict((kind(host['name']), host) for host in report['hosts'])


@pytest.fixture(scope='module')
def page():
    with browser.Browser() as chromium:
        chromium.open(os.path.join(REPORT, 'lowmem-report.html'))
        yield chromium


def test_the_three_files_are_there_mode_0644_and_nothing_else():
    assert sorted(os.listdir(REPORT)) == sorted(FILES)
    for name in FILES:
        assert stat.S_IMODE(os.stat(os.path.join(REPORT, name)).st_mode) == 0o644


def test_every_host_of_the_inventory_is_listed_with_what_became_of_it(report, hosts):
    assert len(report['hosts']) == 5
    assert dict((name, host['status']) for name, host in hosts.items()) == {
        'kills': 'ok', 'disabled': 'ok', 'no-report': 'report_skipped', 'failed': 'failed',
        'unreachable': 'unreachable'}
    assert report['complete'] is True and report['window'] == '30d' and report['limit'] is None


def test_the_unreachable_host_is_listed_as_such(hosts):
    host = hosts['unreachable']
    assert host['severity'] == 'unreachable'
    assert host['detail'].startswith('unreachable at lowmemorykiller: ')
    assert host['lowmemorykiller']['state'] == 'unknown' and host['kills'] is None


def test_the_failed_host_names_the_step_that_failed(hosts):
    host = hosts['failed']
    assert host['severity'] == 'failed'
    assert host['detail'].startswith('failed at lowmemorykiller: ')
    assert 'minfree' in host['detail']


def test_the_host_without_the_report_shows_what_the_role_did(hosts):
    host = hosts['no-report']
    assert host['severity'] == 'skipped'
    assert host['lowmemorykiller']['state'] == 'absent'
    assert host['swap']['file'] == {'path': '/mnt/disk/swapfile', 'size': 64 * 1024 * 1024, 'active': False,
                                    'fstab': '/mnt/disk/swapfile none swap sw 0 0'}
    assert host['sysctl']['values'] == {'vm.swappiness': '10', 'vm.vfs_cache_pressure': '50'}
    assert host['kills'] is None and host['findings'] is None


def test_the_disabled_host_has_its_one_page_table(hosts):
    host = hosts['disabled']
    assert host['lowmemorykiller']['state'] == 'disabled'
    assert [(row['minfree_pages'], row['adj']) for row in host['lowmemorykiller']['thresholds']] == [(1, 9999)]
    assert host['lowmemorykiller']['persisted_by'] == ['tmpfiles']
    assert host['kills']['total'] == 0 and host['severity'] in ('ok', 'warning')
    # /proc/sys is read-only in the containers: written to the file, not applied.
    assert sorted(host['sysctl']['not_applied']) == ['vm.swappiness', 'vm.vfs_cache_pressure']


def test_the_kills_of_the_window_by_killer_with_the_newest(hosts):
    host = hosts['kills']
    assert host['severity'] == 'kill' and host['lowmemorykiller']['state'] == 'active'
    assert ([(row['minfree_pages'], row['adj']) for row in host['lowmemorykiller']['thresholds']]
            == list(zip(DEFAULT_MINFREE, DEFAULT_ADJ)))
    kills = host['kills']
    # The 60-day-old kill of old-job is outside the 30-day window.
    assert kills['counted_from'] == 'kills_by_killer'
    assert dict((name, entry['count']) for name, entry in kills['by_killer'].items()) == {
        'lowmemorykiller': 2, 'oom-killer': 1}
    assert kills['by_killer']['oom-killer']['newest']['comm'] == 'java'
    assert (kills['newest']['comm'], kills['newest']['pid'], kills['newest']['killer']) == (
        'php-fpm', 4002, 'lowmemorykiller')
    # The driver's defaults are what the host had: the adj 0 victim was possible below the first row.
    assert (kills['newest_threshold']['minfree_pages'], kills['newest_threshold']['adj']) == (1536, 0)
    assert 'kills_found' in [finding['code'] for finding in host['findings']['warning']]


def test_markdown_is_one_row_per_host_kills_first(report):
    with open(os.path.join(REPORT, 'lowmem-report.md')) as handle:
        lines = handle.read().splitlines()
    rows = [line for line in lines if line.startswith('| ') and not line.startswith(('| host', '| ---'))]
    names = [row.split(' | ')[0][2:] for row in rows]
    assert sorted(names) == sorted(host['name'] for host in report['hosts'])
    assert kind(names[0]) == 'kills'
    assert 'lowmemorykiller 2, oom-killer 1' in rows[0]
    assert 'unreachable at lowmemorykiller' in rows[names.index(UNREACHABLE)]


# --- the HTML in a real browser ----------------------------------------------------------------------

SECTIONS = """Array.prototype.map.call(document.querySelectorAll('section.host'), function (s) {
  var badge = s.querySelector('.badge');
  return {host: s.dataset.host, severity: s.dataset.severity, badge: getComputedStyle(badge).backgroundColor,
          border: getComputedStyle(s).borderLeftColor, visible: s.getBoundingClientRect().height > 0,
          bars: Array.prototype.map.call(s.querySelectorAll('svg.thresholds rect.bar'), function (r) {
            return {width: r.getBoundingClientRect().width, bytes: Number(r.dataset.minfreeBytes),
                    ram: Number(r.dataset.ramBytes)}; }),
          track: (s.querySelector('svg.thresholds rect.ram') || {getBoundingClientRect: function () {
            return {width: 0}; }}).getBoundingClientRect().width};
})"""


def test_the_page_loads_nothing_from_outside(page):
    assert page.evaluate("performance.getEntriesByType('resource').length") == 0
    assert page.evaluate("document.querySelectorAll('script, link, img, iframe, object').length") == 0


def test_the_page_shows_the_hosts_with_kills_first_then_failed_and_unreachable(page):
    sections = page.evaluate(SECTIONS)
    assert [kind(s['host']) for s in sections][0] == 'kills'
    order = [kind(s['host']) for s in sections]
    assert order.index('failed') < order.index('unreachable') < order.index('no-report')
    assert all(s['visible'] for s in sections)


def test_the_severity_colours_are_rendered(page):
    sections = dict((kind(s['host']), s) for s in page.evaluate(SECTIONS))
    assert sections['kills']['badge'] == KILL_RGB and sections['kills']['border'] == KILL_RGB
    assert len(set(s['badge'] for s in sections.values())) == len(set(s['severity'] for s in sections.values()))


def test_the_bars_are_the_thresholds_against_the_ram(page, hosts):
    sections = dict((kind(s['host']), s) for s in page.evaluate(SECTIONS))
    bars = sections['kills']['bars']
    ram = hosts['kills']['memory']['mem_total_bytes']
    assert [rect['bytes'] for rect in bars] == [pages * 4096 for pages in DEFAULT_MINFREE]
    for rect in bars:
        assert rect['ram'] == ram
        assert rect['width'] == pytest.approx(max(1.0, sections['kills']['track'] * rect['bytes'] / float(ram)),
                                              abs=0.5)
    assert len(sections['disabled']['bars']) == 1 and sections['unreachable']['bars'] == []


# --- 30 hosts from synthetic data ----------------------------------------------------------------------

def test_a_30_host_report_renders_in_order_with_bars_sized_to_ram(tmp_path):
    directory = str(tmp_path)
    synthetic.main(['synthetic.py', directory])
    with open(os.path.join(directory, 'lowmem-report.json')) as handle:
        model = json.load(handle)
    screenshot = os.path.join(EPHEMERAL, 'fleet-report-30.png')
    with browser.Browser() as chromium:
        chromium.open(os.path.join(directory, 'lowmem-report.html'))
        sections = chromium.evaluate(SECTIONS)
        chromium.screenshot(screenshot)
    assert len(sections) == 30
    ranks = ['kill', 'warning', 'failed', 'unreachable', 'ok', 'skipped', 'not_reached']
    assert [ranks.index(s['severity']) for s in sections] == sorted(ranks.index(s['severity']) for s in sections)
    assert sections[0]['severity'] == 'kill' and sections[0]['badge'] == KILL_RGB
    by_name = dict((host['name'], host) for host in model['hosts'])
    # A 512 MiB host with the driver's defaults: 64 MiB is an eighth of the track.
    small = [s for s in sections if by_name[s['host']]['memory']['mem_total_bytes'] == 512 * 1024 * 1024
             and len(s['bars']) == 4][0]
    assert small['bars'][-1]['width'] == pytest.approx(small['track'] / 8.0, abs=0.5)
    assert small['bars'][-1]['width'] > 4 * small['bars'][0]['width'] > 0
    with open(screenshot, 'rb') as handle:
        assert handle.read(8) == b'\x89PNG\r\n\x1a\n'
