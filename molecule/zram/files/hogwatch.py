# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""molecule/zram: runs the kernel scenario's hog (default /usr/local/bin/site-build) and watches swap while
it runs, since the swap it used is freed the moment it exits. Every 0.2 s it reads /proc/swaps and
/sys/block/zram0/mm_stat; it prints one JSON object: the hog's exit (rc, negative for a signal, as Python
and Ansible report it), its run time, the peak `Used` (KiB) of each swap area with its priority, and the
mm_stat sample in which zram held the most (orig_data_size), by the kernel's field names.
Usage: python3 hogwatch.py [COMMAND...] (prepare.yml installs it as /usr/local/lib/hogwatch.py)"""

import json
import os
import subprocess
import sys
import time

FIELDS = ('orig_data_size', 'compr_data_size', 'mem_used_total', 'mem_limit', 'mem_used_max', 'same_pages',
          'pages_compacted', 'huge_pages', 'huge_pages_since')
MM_STAT = '/sys/block/zram0/mm_stat'


def swaps():
    with open('/proc/swaps') as f:
        rows = [line.split() for line in f.read().splitlines()[1:]]
    return dict((row[0], {'used_kb': int(row[3]), 'priority': int(row[4]), 'size_kb': int(row[2])}) for row in rows)


def mm_stat():
    if not os.path.exists(MM_STAT):
        return None
    with open(MM_STAT) as f:
        return dict(zip(FIELDS, [int(value) for value in f.read().split()]))


def main():
    argv = sys.argv[1:] or ['/usr/local/bin/site-build']
    peak, peak_mm = {}, None
    started = time.time()
    hog = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    while hog.poll() is None:
        for name, area in swaps().items():
            if name not in peak or area['used_kb'] > peak[name]['used_kb']:
                peak[name] = area
        stat = mm_stat()
        if stat is not None and (peak_mm is None or stat['orig_data_size'] > peak_mm['orig_data_size']):
            peak_mm = stat
        time.sleep(0.2)
    out = hog.stdout.read()
    print(json.dumps({'rc': hog.returncode, 'seconds': round(time.time() - started, 1), 'peak': peak,
                      'mm_stat_peak': peak_mm, 'swaps_after': swaps(), 'output': out.splitlines()[-3:]}))


if __name__ == '__main__':
    main()
