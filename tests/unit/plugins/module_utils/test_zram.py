# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of lowmem.hardening.zram: no I/O, no root needed."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from fractions import Fraction

import pytest

from ansible_collections.lowmem.hardening.plugins.module_utils.host import SwapArea, parse_swaps
from ansible_collections.lowmem.hardening.plugins.module_utils.zram import (
    DEFAULT_PRIORITY,
    Device,
    Host,
    MIB,
    Request,
    Size,
    ZramError,
    check_algorithm,
    check_size,
    config_sections,
    device_matches,
    generator_size,
    is_ours,
    parse_comp_algorithm,
    parse_disksize,
    parse_mm_stat,
    parse_size,
    plan,
    render_generator_config,
    render_oomd_dropin,
    render_unit,
    size_bytes,
    swap_of,
)

PAGE = 4096
RAM = 481284 * 1024  # the test VM's MemTotal
TOOLS = dict(modprobe='/usr/sbin/modprobe', zramctl='/usr/sbin/zramctl', mkswap='/usr/sbin/mkswap',
             swapon='/usr/sbin/swapon', swapoff='/usr/sbin/swapoff')
ALGORITHMS = ['lzo', 'lzo-rle', 'lz4', 'lz4hc', 'zstd']
NO_DEVICE = Device(False, 0, None, [], None, {})
NO_FILES = {'config': None, 'dropin': None, 'unit': None}


# ---- sizes -----------------------------------------------------------------------------------

@pytest.mark.parametrize('value, kind, amount', [
    ('ram / 2', 'ram', Fraction(1, 2)),
    ('ram/4', 'ram', Fraction(1, 4)),
    ('RAM * 0.75', 'ram', Fraction(3, 4)),
    ('ram', 'ram', Fraction(1)),
    ('ram * 2', 'ram', Fraction(2)),
    ('50%', 'ram', Fraction(1, 2)),
    ('12.5 %', 'ram', Fraction(1, 8)),
    ('200%', 'ram', Fraction(2)),
    ('512M', 'bytes', 512 * MIB),
    ('1G', 'bytes', 1024 * MIB),
    ('1.5GiB', 'bytes', 1536 * MIB),
    ('268435456', 'bytes', 256 * MIB),
    (268435456, 'bytes', 256 * MIB),
    ('64KiB', 'bytes', 64 * 1024),
])
def test_parse_size(value, kind, amount):
    size = parse_size(value)
    assert (size.kind, size.value) == (kind, amount)


@pytest.mark.parametrize('value, words', [
    ('ram / 0', 'by zero'), ('0%', 'greater than zero'), ('0', 'greater than zero'), (0, 'greater than zero'),
    ('ram / x', 'not a size'), ('half', 'not a size'), ('min(ram / 2, 4096)', 'not a size'),
    ('1.5', 'whole number of bytes'), (True, 'not a size'), (1.5, 'not a size'), ('-1G', 'not a size'),
])
def test_parse_size_refuses_naming_the_parameter(value, words):
    with pytest.raises(ZramError) as caught:
        parse_size(value)
    assert str(caught.value).startswith('size: ') and words in str(caught.value)


def test_size_bytes_rounds_as_the_kernel_and_the_generator_do():
    half = parse_size('ram / 2')
    assert size_bytes(half, RAM, PAGE) == 246419456  # 60160.5 pages, rounded up by the kernel
    assert size_bytes(half, RAM, PAGE, whole_mib=True) == 235 * MIB  # what the VM showed with the generator
    assert size_bytes(parse_size('1000000'), RAM, PAGE) == 1003520
    assert size_bytes(parse_size('1.5M'), RAM, PAGE, whole_mib=True) == MIB


def test_check_size_refuses_more_than_twice_the_ram_and_less_than_mkswap_needs():
    check_size(parse_size('ram * 2'), 2 * RAM, RAM, PAGE)
    with pytest.raises(ZramError) as caught:
        check_size(parse_size('ram * 2.5'), int(2.5 * RAM), RAM, PAGE)
    message = str(caught.value)
    assert message.startswith('size: ram * 2.5 is ') and 'more than 2 x RAM' in message and 'thrash' in message
    with pytest.raises(ZramError) as caught:
        check_size(parse_size('36K'), 36 * 1024, RAM, PAGE)
    assert 'below the minimum mkswap accepts, 10 pages' in str(caught.value)


@pytest.mark.parametrize('value, text', [
    ('ram / 2', 'ram / 2'), ('50%', 'ram / 2'), ('ram * 0.75', 'ram * 3 / 4'), ('ram', 'ram'), ('200%', 'ram * 2'),
    ('12.5%', 'ram / 8'), ('512M', '512'), ('1.5G', '1536'), ('1000000', '0'),
])
def test_generator_size(value, text):
    assert generator_size(parse_size(value)) == text


# ---- algorithms and the kernel's texts -----------------------------------------------------------

def test_parse_comp_algorithm():
    assert parse_comp_algorithm(b'lzo [lzo-rle] lz4 lz4hc zstd \n') == ('lzo-rle', ALGORITHMS)
    assert parse_comp_algorithm(b'lzo lzo-rle lz4 lz4hc [zstd]\n') == ('zstd', ALGORITHMS)
    assert parse_comp_algorithm(b'') == (None, [])


def test_check_algorithm():
    check_algorithm('zstd', ALGORITHMS)
    check_algorithm('zstd', [])  # no device yet: the name alone is checked
    with pytest.raises(ZramError) as caught:
        check_algorithm('842', ALGORITHMS)
    assert str(caught.value) == ('algorithm: this kernel does not offer 842 for zram; /sys/block/zram0/comp_algorithm '
                                 'lists lzo, lzo-rle, lz4, lz4hc, zstd')
    for bad in ('zstd ', 'ZSTD', 'lz4;reboot', '', '-x'):
        with pytest.raises(ZramError, match='^algorithm: '):
            check_algorithm(bad, ALGORITHMS)


def test_parse_disksize_and_mm_stat():
    assert parse_disksize(b'246415360\n') == 246415360 and parse_disksize(b'') == 0 and parse_disksize(b'x') == 0
    # 6.1: nine fields; the ratio is what zramctl shows as DATA / COMPR
    stats = parse_mm_stat(b'104857600 31457280 33554432        0 33554432        5        0        2        2\n')
    assert stats['orig_data_size'] == 104857600 and stats['compr_data_size'] == 31457280
    assert stats['huge_pages_since'] == 2 and stats['ratio'] == 3.33
    assert parse_mm_stat(b'0 0 0 0 0 0 0 0 0\n')['ratio'] is None
    assert parse_mm_stat(b'4096 63 4096 0 4096 0 0\n') == dict(  # an older kernel: seven fields
        orig_data_size=4096, compr_data_size=63, mem_used_total=4096, mem_limit=0, mem_used_max=4096,
        same_pages=0, pages_compacted=0, ratio=65.02)
    assert parse_mm_stat(b'') == {}


def test_swap_of_uses_the_host_layers_parser():
    areas = parse_swaps(b'Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n'
                        b'/dev/zram0 partition 240636 1024 100\n')
    assert swap_of(areas) == SwapArea(b'/dev/zram0', 'partition', 240636 * 1024, 1024 * 1024, 100)
    assert swap_of(areas[:1]) is None


# ---- the files ---------------------------------------------------------------------------------------

def test_render_generator_config():
    text = render_generator_config(parse_size('ram / 2'), 'zstd', 100).decode()
    assert text.splitlines()[1:] == ['[zram0]', 'zram-size = ram / 2', 'compression-algorithm = zstd',
                                     'swap-priority = 100']
    assert is_ours(text.encode()) and config_sections(text.encode()) == ['zram0']
    assert 'compression-algorithm' not in render_generator_config(parse_size('1G'), None, 5).decode()


def test_render_unit_runs_each_tool_without_a_shell_before_swap_and_oomd():
    text = render_unit(TOOLS, 268435456, 'lz4', 50).decode()
    lines = text.splitlines()
    assert [line for line in lines if line.startswith('Exec')] == [
        'ExecStart=/usr/sbin/modprobe zram',
        'ExecStart=/usr/sbin/zramctl --size 268435456 --algorithm lz4 /dev/zram0',
        'ExecStart=/usr/sbin/mkswap /dev/zram0',
        'ExecStart=/usr/sbin/swapon --priority 50 /dev/zram0',
        'ExecStop=-/usr/sbin/swapoff /dev/zram0',
        'ExecStop=/usr/sbin/zramctl --reset /dev/zram0',
        'ExecStop=-/usr/sbin/modprobe -r zram',
    ]
    for line in ('DefaultDependencies=no', 'Before=swap.target systemd-oomd.service shutdown.target', 'Type=oneshot',
                 'RemainAfterExit=yes', 'WantedBy=swap.target'):
        assert line in lines
    assert is_ours(text.encode())
    assert '--algorithm' not in render_unit(TOOLS, MIB, None, 1).decode()


def test_oomd_dropin():
    assert render_oomd_dropin().decode().endswith('[Unit]\nBefore=systemd-oomd.service\n')


# ---- planning -----------------------------------------------------------------------------------------

def current(files=None, device=NO_DEVICE, generator=True, enabled=False, available=400 * MIB, misowned=()):
    return Host(mem_total=RAM, mem_available=available, page_size=PAGE, systemd=True, generator=generator,
                files=dict(NO_FILES, **(files or {})), misowned=list(misowned), enabled=enabled, device=device)


def request(size='ram / 2', algorithm=None, priority=DEFAULT_PRIORITY, method='auto', state='present'):
    return Request(state, parse_size(size) if size else None, algorithm, priority, method)


def live(size, algorithm='lzo-rle', priority=100, used=0):
    swap = SwapArea(b'/dev/zram0', 'partition', size, used, priority) if priority is not None else None
    return Device(True, size, algorithm, ALGORITHMS, swap, {})


def as_planned(the_plan, device, generator=True):
    """The host after the plan ran."""
    return current(files=the_plan.files, device=device, enabled=the_plan.method == 'unit', generator=generator)


def test_plan_generator_from_nothing_then_nothing_to_do():
    first = plan(request(algorithm='zstd'), current())
    assert first.method == 'generator' and first.setup and not first.teardown and first.changed
    assert first.write == ['config', 'dropin'] and first.files['unit'] is None
    assert (first.size, first.algorithm, first.priority, first.active) == (235 * MIB, 'zstd', 100, True)
    second = plan(request(algorithm='zstd'), as_planned(first, live(235 * MIB, 'zstd')))
    assert not second.changed and second.write == [] and not second.setup


def test_plan_auto_picks_the_unit_without_the_generator():
    the_plan = plan(request(size='256M'), current(generator=False), TOOLS)
    assert the_plan.method == 'unit' and the_plan.enable and the_plan.write == ['unit']
    assert the_plan.size == 256 * MIB and b'--size 268435456 /dev/zram0' in the_plan.files['unit']
    again = plan(request(size='256M'), as_planned(the_plan, live(256 * MIB), generator=False), TOOLS)
    assert not again.changed


@pytest.mark.parametrize('device, reason', [
    (live(200 * MIB), 'size'),
    (live(235 * MIB, algorithm='lz4'), 'algorithm'),
    (live(235 * MIB, priority=5), 'priority'),
    (live(235 * MIB, priority=None), 'not swap'),
])
def test_plan_makes_a_device_that_differs_again(device, reason):
    files = plan(request(algorithm='lzo-rle'), current()).files
    the_plan = plan(request(algorithm='lzo-rle'), current(files=files, device=device))
    assert the_plan.setup and the_plan.teardown and the_plan.changed, reason
    assert the_plan.write == []


def test_plan_without_algorithm_keeps_the_devices():
    the_plan = plan(request(), current(device=live(235 * MIB, 'zstd')))
    assert not the_plan.setup and the_plan.algorithm == 'zstd'


def test_plan_generator_size_within_a_page_matches():
    files = plan(request(), current()).files
    assert not plan(request(), current(files=files, device=live(235 * MIB + PAGE))).setup
    assert plan(request(), current(files=files, device=live(235 * MIB + 2 * PAGE))).setup


def test_plan_switching_method_removes_the_other_and_makes_the_device_again():
    generator = plan(request(), current())
    the_plan = plan(request(method='unit'), as_planned(generator, live(235 * MIB)), TOOLS)
    assert the_plan.method == 'unit' and the_plan.setup and the_plan.teardown and the_plan.enable
    assert the_plan.write == ['config', 'dropin', 'unit'] and the_plan.files['config'] is None


def test_plan_refuses_swapoff_that_does_not_fit():
    with pytest.raises(ZramError, match='more than MemAvailable'):
        plan(request(size='200M'), current(device=live(235 * MIB, used=300 * MIB), available=100 * MIB))
    with pytest.raises(ZramError, match='more than MemAvailable'):
        plan(request(state='absent', size=None), current(device=live(235 * MIB, used=300 * MIB), available=100 * MIB))


def test_plan_refuses_the_generator_when_missing_and_a_foreign_zram0():
    with pytest.raises(ZramError, match='^method: generator needs systemd-zram-generator'):
        plan(request(method='generator'), current(generator=False))
    filesystem = Device(True, MIB, 'lzo-rle', ALGORITHMS, None, {})
    with pytest.raises(ZramError, match='but is not swap'):
        plan(request(), current(device=filesystem))
    assert not plan(request(state='absent', size=None), current(device=filesystem)).changed


def test_plan_misowned_file_is_rewritten_without_touching_the_device():
    files = plan(request(), current()).files
    the_plan = plan(request(), current(files=files, device=live(235 * MIB), misowned=['config']))
    assert the_plan.write == ['config'] and not the_plan.setup and the_plan.changed


def test_plan_absent():
    unit = plan(request(method='unit'), current(generator=False), TOOLS)
    the_plan = plan(request(state='absent', size=None), as_planned(unit, live(unit.size)))
    assert the_plan.teardown and the_plan.disable and the_plan.unload and the_plan.write == ['unit']
    assert (the_plan.size, the_plan.active, the_plan.method) == (0, False, None)
    assert not plan(request(state='absent', size=None), current()).changed
    debian = plan(request(state='absent', size=None), current(files={'config': b'[zram0]\n'}))
    assert debian.write == ['config'] and debian.files['config'] is None
    with pytest.raises(ZramError, match='configures zram1 too'):
        plan(request(state='absent', size=None), current(files={'config': b'[zram0]\n[zram1]\n'}))


def test_device_matches_needs_swap():
    host = current(device=live(MIB, priority=None))
    assert not device_matches(host, MIB, None, 100)
    assert device_matches(current(device=live(MIB)), MIB, None, 100)
    assert Size('bytes', 1, '1') == parse_size(1)
