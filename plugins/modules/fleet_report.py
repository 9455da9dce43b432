#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the action plugin plugins/action/fleet_report.py does the work, on the controller.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: fleet_report
short_description: Write one report of the role's results for every host of the play, on the controller
version_added: 0.2.0
description:
  - Writes C(lowmem-report.json), C(lowmem-report.md) and C(lowmem-report.html) into O(dest) on the controller, from
    what the role C(lowmem.hardening.lowmem) registered on each host of O(hosts), the lowmemorykiller driver's state
    and threshold table, swap, sysctls, protected services, the memory-pressure kills of the window by killer with
    the newest, and the findings by severity.
  - Every host of O(hosts) is listed, with its status. V(ok), the role ran to its end; V(report_skipped), it ran without
    reading the logs (C(lowmem_report=false)); V(failed), a step of the role failed (the steps before it are shown), or
    the host failed after it; V(unreachable), it was unreachable, or has no result at all (it failed before the role
    ran); V(not_reached), it is still in the play and has no result yet (a later C(serial) batch).
  - Runs no module on the hosts and opens no connection. Meant for C(run_once=true) in the role; each C(serial) batch
    rewrites the report, the last batch's is complete.
  - Each file is written to a temporary file in O(dest) and renamed onto its name, mode C(0644), as the user that
    runs Ansible. O(dest) is created when missing (C(0755)).
  - Always reports C(changed=false), since it changes no host.
author:
  - lowmem.hardening maintainers (!UNKNOWN)
attributes:
  action:
    support: full
    description: An action plugin; no module runs on the hosts.
  async:
    support: none
    description: Runs on the controller, at once.
  bypass_host_loop:
    support: none
    description: Use C(run_once=true); the report covers O(hosts) whichever host runs it.
  check_mode:
    support: full
    description: Writes the report in check mode too, from the check run's results; the report says so.
  diff_mode:
    support: none
    description: The report is written whole; there is no diff.
  platform:
    support: full
    platforms: posix
    description: The controller.
options:
  dest:
    description: The directory on the controller to write the three files into.
    type: path
    required: true
  hosts:
    description:
      - Every host of the play, in order; give C(ansible_play_hosts_all), which C(--limit) narrows.
    type: list
    elements: str
    required: true
  active:
    description:
      - The hosts the play has not taken out (failed or unreachable); give C(ansible_play_hosts).
    type: list
    elements: str
    required: true
  result_var:
    description: The host fact holding the role's published result.
    type: str
    default: lowmem_result
  registered:
    description:
      - Module name (V(lowmemorykiller), V(swapfile), V(sysctl), V(oom_protect), V(lowmemorykiller_info)) to the
        variable the role registers its call's result in, to tell where a host failed or became unreachable.
    type: dict
    default: {}
  window:
    description: The window of the kills, as given to M(lowmem.hardening.lowmemorykiller_info)'s C(since); shown only.
    type: str
notes:
  - A host's data come from its C(result_var) fact, else from its registered results that succeeded.
seealso:
  - module: lowmem.hardening.lowmemorykiller_info
'''

EXAMPLES = r'''
# As the role lowmem.hardening.lowmem calls it, once, after every host's report
- name: Write the fleet report
  lowmem.hardening.fleet_report:
    dest: "{{ playbook_dir }}/lowmem-report"
    hosts: "{{ ansible_play_hosts_all }}"
    active: "{{ ansible_play_hosts }}"
    window: 30d
    registered:
      lowmemorykiller: __lowmem_lmk_result
      lowmemorykiller_info: __lowmem_kills_result
  run_once: true
'''

RETURN = r'''
dest:
  description: The directory the report was written to.
  returned: success
  type: str
  sample: /srv/ansible/lowmem-report
files:
  description: The three files written.
  returned: success
  type: list
  elements: str
  sample: [/srv/ansible/lowmem-report/lowmem-report.json, /srv/ansible/lowmem-report/lowmem-report.md,
           /srv/ansible/lowmem-report/lowmem-report.html]
complete:
  description: Whether every host has a result (no host is V(not_reached)).
  returned: success
  type: bool
  sample: true
counts:
  description: How many hosts have each C(status) and each C(severity).
  returned: success
  type: dict
  sample: {status: {ok: 3, report_skipped: 1, failed: 1, unreachable: 1, not_reached: 0},
           severity: {kill: 1, warning: 1, failed: 1, unreachable: 1, ok: 1, skipped: 1, not_reached: 0}}
'''
