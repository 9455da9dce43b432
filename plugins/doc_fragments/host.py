# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    """What every module that changes the host promises; it is kept in plugins/module_utils/host.py."""

    DOCUMENTATION = r'''
options: {}
notes:
  - Needs root (C(become=true)); without it the module fails before it reads or writes anything.
  - Every file is written the same way, by the collection's host layer, C(plugins/module_utils/host.py). A
    temporary file in the same directory is owned by root and given the final mode before a byte is written,
    is written in full and fsynced, replaces the file with an atomic rename, and the directory is fsynced. An
    interrupted run leaves the old file or the new one, never a part.
  - Each change registers its undo as it is made. A run that fails part-way undoes every change in reverse
    order and fails with one message saying what failed and whether everything was put back, and the result
    still reports what the run saw.
  - Runs on one host that touch the same files or kernel values wait for each other (locks on their
    directories; no lock file is created).
  - Commands run without a shell, under the C locale.
  - Target Python 3.6 or newer.
'''

    BACKUP = r'''
options:
  backup:
    description:
      - Keep a copy of the file, named after it with a time stamp, before changing it, as
        M(ansible.builtin.lineinfile) does. The copy's name is returned as RV(backup_file).
      - A run that fails removes its copy again.
    type: bool
    default: false
'''
