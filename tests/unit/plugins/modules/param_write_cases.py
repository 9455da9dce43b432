# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The table of writes that the real kernel and our models of it must answer alike.

Each case is one write(2) of exact bytes to one parameter, made on both test-bed kernels (plain,
and Android's oom_adj autodetection) after the driver's defaults were written back (RESTORE).
tests/kernel/record_param_writes.py runs it on the real kernel through
tests/kernel/probe_param_writes.py and keeps the answers in fixtures/param_writes.json;
test_kernel_param_writes.py runs it against kernel_model.KernelModel and compares.

Plain data, no imports: the recorder loads this file by its path, outside ansible-test.
Data are text with one character per byte (only ASCII and NUL here).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

# Written in this order before every case: the driver's load-time defaults. On the Android
# variant adj then reads 0,58,352,705 (the defaults are converted only when written).
RESTORE = [
    ('debug_level', '1\n'),
    ('cost', '32\n'),
    ('minfree', '1536,2048,4096,16384\n'),
    ('adj', '0,1,6,12\n'),
]

PAGE = 4096  # sysfs takes at most one page per write(2) and ignores the rest

# (id, param, data)
CASES = [
    # -- the fix of 2014 and normal tables -----------------------------------------------
    ('adj-9999-newline', 'adj', '9999\n'),
    ('adj-9999', 'adj', '9999'),
    ('minfree-1-newline', 'minfree', '1\n'),
    ('minfree-1', 'minfree', '1'),
    ('adj-1-element', 'adj', '0\n'),
    ('adj-2-elements', 'adj', '0,1\n'),
    ('adj-3-elements', 'adj', '0,1,6\n'),
    ('adj-4-elements-defaults', 'adj', '0,1,6,12\n'),
    ('adj-5-elements', 'adj', '0,1,6,12,15'),
    ('adj-6-elements', 'adj', '0,1,2,3,4,5\n'),
    ('adj-6-score-adj', 'adj', '0,100,200,300,529,1000\n'),
    ('adj-converted-values', 'adj', '0,58,352,705\n'),
    ('minfree-1-element', 'minfree', '1024'),
    ('minfree-2-elements', 'minfree', '1024,2048\n'),
    ('minfree-3-elements', 'minfree', '1024,2048,4096'),
    ('minfree-4-elements', 'minfree', '1536,2048,4096,16384\n'),
    ('minfree-5-elements', 'minfree', '1,2,3,4,5\n'),
    ('minfree-6-elements', 'minfree', '1536,2048,4096,16384,20000,30000\n'),
    # -- number syntax: kstrto*(base 0) --------------------------------------------------
    ('minfree-plus-octal-hex', 'minfree', '+7,010,0x10'),
    ('minfree-hex-upper', 'minfree', '0X1F,0xaB\n'),
    ('minfree-zero-forms', 'minfree', '0,00,-0,0x0'),
    ('minfree-octal-8', 'minfree', '08'),
    ('minfree-0x-alone', 'minfree', '0x'),
    ('minfree-0x-not-hex', 'minfree', '0xg'),
    ('minfree-plus-plus', 'minfree', '++5'),
    ('minfree-minus-plus', 'minfree', '-+5'),
    ('minfree-sign-alone', 'minfree', '+'),
    ('adj-plus', 'adj', '+5\n'),
    ('adj-negative-hex', 'adj', '-0x10,0'),
    ('adj-abc', 'adj', 'abc'),
    ('minfree-suffix', 'minfree', '4M'),
    ('minfree-decimal-point', 'minfree', '1.5'),
    # -- negative values -----------------------------------------------------------------
    ('adj-negative', 'adj', '-1000,0,1000\n'),
    ('adj-oom-adj-negative', 'adj', '-17,-5,1'),
    ('minfree-negative', 'minfree', '-5'),
    ('minfree-minus-1-then-1', 'minfree', '1,-1\n'),
    ('cost-negative', 'cost', '-5\n'),
    ('debug-level-negative', 'debug_level', '-1'),
    ('debug-level-minus-zero', 'debug_level', '-0'),
    # -- ranges: short adj, int minfree and cost, uint debug_level -----------------------
    ('adj-short-max', 'adj', '32767'),
    ('adj-short-min', 'adj', '-32768'),
    ('adj-short-over', 'adj', '32768'),
    ('adj-short-under', 'adj', '-32769'),
    ('adj-40000', 'adj', '40000\n'),
    ('adj-second-40000', 'adj', '0,40000'),
    ('minfree-int-max', 'minfree', '2147483647'),
    ('minfree-int-min', 'minfree', '-2147483648'),
    ('minfree-int-over', 'minfree', '2147483648'),
    ('minfree-uint-max', 'minfree', '4294967295'),
    ('minfree-99999999999', 'minfree', '99999999999'),
    ('minfree-second-99999999999', 'minfree', '1,99999999999\n'),
    ('minfree-u64-max', 'minfree', '18446744073709551615'),
    ('minfree-u64-overflow', 'minfree', '18446744073709551616'),
    ('minfree-u64-overflow-then-junk', 'minfree', '99999999999999999999x'),
    ('minfree-int-overflow-then-junk', 'minfree', '99999999999x'),
    ('cost-int-max', 'cost', '2147483647'),
    ('cost-int-over', 'cost', '2147483648'),
    ('cost-int-min', 'cost', '-2147483648'),
    ('cost-int-under', 'cost', '-2147483649'),
    ('debug-level-uint-max', 'debug_level', '4294967295'),
    ('debug-level-uint-over', 'debug_level', '4294967296\n'),
    # -- plain integers: cost and debug_level --------------------------------------------
    ('cost-16-newline', 'cost', '16\n'),
    ('cost-16', 'cost', '16'),
    ('cost-hex', 'cost', '0x20'),
    ('cost-plus', 'cost', '+64'),
    ('cost-zero', 'cost', '0'),
    ('cost-two-values', 'cost', '1,2'),
    ('cost-abc', 'cost', 'abc\n'),
    ('cost-leading-space', 'cost', ' 16'),
    ('cost-two-newlines', 'cost', '16\n\n'),
    ('cost-empty', 'cost', ''),
    ('cost-only-newline', 'cost', '\n'),
    ('debug-level-0', 'debug_level', '0'),
    ('debug-level-5-newline', 'debug_level', '5\n'),
    ('debug-level-octal', 'debug_level', '017'),
    ('debug-level-empty', 'debug_level', ''),
    ('debug-level-only-newline', 'debug_level', '\n'),
    # -- more than 6 elements ------------------------------------------------------------
    ('minfree-7-elements', 'minfree', '1,2,3,4,5,6,7'),
    ('minfree-8-elements', 'minfree', '1,2,3,4,5,6,7,8\n'),
    ('adj-7-elements', 'adj', '0,1,2,3,4,5,6\n'),
    ('adj-7-oom-adj-values', 'adj', '0,2,4,7,9,12,15'),
    ('minfree-7-elements-7th-bad', 'minfree', '1,2,3,4,5,6,x'),
    # -- a failed first element: nothing stored -----------------------------------------
    ('minfree-first-too-big', 'minfree', '99999999999\n'),
    ('minfree-leading-space', 'minfree', ' 5'),
    ('minfree-trailing-space', 'minfree', '5 '),
    ('adj-leading-space', 'adj', ' 5'),
    ('adj-trailing-space', 'adj', '5 \n'),
    ('minfree-comma-only', 'minfree', ','),
    ('minfree-comma-first', 'minfree', ',1'),
    ('minfree-newline-first', 'minfree', '\n3'),
    # -- empty writes --------------------------------------------------------------------
    ('adj-empty', 'adj', ''),
    ('minfree-empty', 'minfree', ''),
    ('adj-only-newline', 'adj', '\n'),
    ('minfree-only-newline', 'minfree', '\n'),
    ('adj-two-newlines', 'adj', '\n\n'),
    # -- empty elements, spaces and newlines inside --------------------------------------
    ('minfree-empty-middle', 'minfree', '1,,2'),
    ('minfree-trailing-comma', 'minfree', '1,2,'),
    ('minfree-trailing-comma-newline', 'minfree', '1,2,\n'),
    ('minfree-space-after-comma', 'minfree', '1, 2'),
    ('minfree-space-before-comma', 'minfree', '1 ,2'),
    ('minfree-space-separated', 'minfree', '1 2'),
    ('minfree-tab', 'minfree', '1,2\t'),
    ('adj-space-after-comma', 'adj', '0, 1, 6, 12\n'),
    ('minfree-newline-ok', 'minfree', '3,4\n'),
    ('minfree-two-newlines', 'minfree', '3,4\n\n'),
    ('minfree-crlf', 'minfree', '3,4\r\n'),
    ('minfree-newline-before-comma', 'minfree', '3\n,4'),
    ('minfree-nul-ends-the-value', 'minfree', '5\x00junk'),
    ('minfree-nul-first', 'minfree', '\x005'),
    # -- one page per write --------------------------------------------------------------
    ('minfree-one-page', 'minfree', '0' * (PAGE - 1) + '7'),
    ('minfree-over-one-page', 'minfree', '0' * PAGE + '7'),
    ('minfree-long-list', 'minfree', '1,' * 2500),
    # -- what Android's autodetection converts -------------------------------------------
    ('adj-oom-adj-15', 'adj', '15'),
    ('adj-oom-adj-0-15', 'adj', '0,15\n'),
    ('adj-oom-adj-16', 'adj', '0,16'),
    ('adj-oom-adj-0', 'adj', '0'),
    ('adj-oom-adj-1', 'adj', '1'),
    ('adj-1-then-abc', 'adj', '1,abc'),
    ('adj-1-2-then-x', 'adj', '1,2,x'),
    ('adj-big-then-oom-adj', 'adj', '600,1\n'),
    ('adj-truncating-division', 'adj', '-5,-1,1'),
    ('adj-oom-score-adj-min-then-oom-adj', 'adj', '-1000,1\n'),
    ('adj-last-above-15', 'adj', '1,2,3,4,5,16'),
]
