# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin lowmem.hardening.fleet_report: writes the role's fleet report on the controller.

Module-less: it runs no module and opens no connection. It reads each host's results from hostvars,
builds the model with plugin_utils.fleet_report and writes lowmem-report.json, .md and .html, each
through a temporary file in the same directory renamed onto its name (mode 0644). Documented in
plugins/modules/fleet_report.py.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.action import ActionBase
from ansible_collections.lowmem.hardening.plugins.plugin_utils import fleet_report

FILES = (
    ('lowmem-report.json', fleet_report.render_json),
    ('lowmem-report.md', fleet_report.render_markdown),
    ('lowmem-report.html', fleet_report.render_html),
)
MODE = 0o644

ARGUMENT_SPEC = dict(
    dest=dict(type='path', required=True),
    hosts=dict(type='list', elements='str', required=True),
    active=dict(type='list', elements='str', required=True),
    result_var=dict(type='str', default='lowmem_result'),
    registered=dict(type='dict', default={}),
    window=dict(type='str'),
)


def write_atomically(directory, name, text):
    """Write text to directory/name through a temporary file there, renamed onto it: a reader sees the
    old file or the new one, never half of one."""
    path = os.path.join(directory, name)
    fd, temporary = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(text, errors='surrogate_or_strict'))
            handle.flush()
            os.fchmod(handle.fileno(), MODE)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return path


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp

        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        directory = args['dest']
        check_mode = bool(task_vars.get('ansible_check_mode', self._task.check_mode))
        model = fleet_report.build_model(
            args['hosts'],
            fleet_report.gather(task_vars.get('hostvars', {}), args['hosts'], args['active'], args['result_var'],
                                args['registered']),
            window=args['window'] or None,
            generated=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
            limit=to_text(task_vars['ansible_limit']) if task_vars.get('ansible_limit') else None,
            check_mode=check_mode,
            play=to_text(task_vars.get('ansible_play_name') or '') or None,
        )
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            files = [write_atomically(directory, name, render(model)) for name, render in FILES]
        except (IOError, OSError) as exc:
            raise AnsibleActionFail('cannot write the fleet report in %s: %s' % (directory, to_native(exc)))

        counts = model['counts']['status']
        result.update(
            # A report on the controller, rewritten at every run: no change to any host.
            changed=False,
            dest=directory,
            files=files,
            complete=model['complete'],
            counts=model['counts'],
            msg='fleet report of %d host(s) in %s: %s' % (
                len(model['hosts']), directory,
                ', '.join('%d %s' % (counts[s], fleet_report.STATUS_TEXT[s]) for s in fleet_report.STATUSES if counts[s])),
        )
        return result
