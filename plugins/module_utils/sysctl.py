# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of lowmem.hardening.sysctl: validate, normalise, render, plan. No I/O."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

# Dotted names only: no '/', no empty or '.'/'..' components, no leading '-' (which
# sysctl.d reads as "ignore errors for this line"), no final newline (which $ would let through).
NAME_RE = re.compile(r'^[a-z0-9_][a-z0-9_-]*(\.[a-z0-9_-]+)+\Z')
NAME_FORM = 'dotted lower-case names such as vm.swappiness ([a-z0-9_-] between dots)'

HEADER = (
    '# Managed by lowmem.hardening (lowmem.hardening.sysctl). Local changes are overwritten.\n'
    '# Read at boot by systemd-sysctl or procps "sysctl --system".\n'
)


def name_error(name):
    """Return why `name` is not an acceptable sysctl name, or None."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        return '%r is not a sysctl name: use %s' % (name, NAME_FORM)
    return None


def name_to_path(name):
    """'vm.swappiness' -> 'vm/swappiness' (relative to /proc/sys)."""
    return name.replace('.', '/')


def normalise_kernel_text(text):
    """How the kernel shows a value, with whitespace runs (tabs in ranges) as one space."""
    return ' '.join(text.split())


def normalise_value(value):
    """Return the value as the kernel would show it, or raise ValueError saying why not.

    Integers and strings are accepted; booleans are refused because YAML turns
    `yes`/`on` into them and the kernel wants numbers.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError('value must be an integer or a string, got %s %r' % (type(value).__name__, value))
    if isinstance(value, int):
        return str(value)
    if any(char in value for char in '\n\r\0'):
        raise ValueError('value must be on one line, got %r' % (value,))
    normalised = normalise_kernel_text(value)
    if not normalised:
        raise ValueError('value must not be empty')
    return normalised


def validate_values(values):
    """Check every entry of the `values` option.

    Returns (normalised, errors): normalised is a list of (name, value) pairs in the
    order given, errors a list of messages, one per bad entry.
    """
    normalised = []
    errors = []
    for name, value in values.items():
        problem = name_error(name)
        if problem is None:
            try:
                normalised.append((name, normalise_value(value)))
            except ValueError as exc:
                problem = '%s: %s' % (name, exc)
        if problem is not None:
            errors.append(problem)
    return normalised, errors


def render_lines(pairs):
    """'name = value' lines for (name, value) pairs, in the order given."""
    return ''.join('%s = %s\n' % (name, value) for name, value in pairs)


def render_file(pairs):
    """Text of the sysctl.d file holding (name, value) pairs."""
    return HEADER + render_lines(pairs)


def plan_runtime(pairs, current):
    """Names whose runtime value differs from the wanted one.

    `current` maps name -> normalised kernel text; values are compared as whitespace
    separated tokens, which is what normalising already did.
    """
    return [name for name, value in pairs if current[name] != value]
