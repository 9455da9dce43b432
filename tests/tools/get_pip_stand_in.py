# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip.py script that ansible-test downloads.

ansible-test creates its sanity virtualenvs without pip and bootstraps pip by
running a get-pip.py it downloads from a host that is unreachable here. The
Makefile saves this file where ansible-test caches that script
(~/.ansible/test/cache/get_pip_<version>.py, under a HOME used only for
ansible-test), so ansible-test runs it instead. It takes the same arguments:
pip options and the packages to install (for example pip==24.2), plus
--no-setuptools and --no-wheel, which only mean "do not add those packages".
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ('--no-setuptools', '--no-wheel')


def main():
    """Install pip from the interpreter's ensurepip, then upgrade it to the requested packages."""
    pip_args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--upgrade'] + pip_args)


if __name__ == '__main__':
    main()
