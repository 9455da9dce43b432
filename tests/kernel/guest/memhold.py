# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A long-running service for the real-kernel VMs: it allocates and touches MIB
MiB (in 8 MiB steps, every page written), says so, then holds it and sleeps
until it is killed. tests/kernel/build.sh installs it in the guests behind a
#!/usr/bin/python3 line twice, as /usr/local/bin/memhold (memhold.service, the
service to protect) and as /usr/local/bin/batchjob (batch.service, the one to
sacrifice first), so that the kernel's records and earlyoom's name matching
(/proc/PID/comm) tell the two apart. Its messages carry the name it was run by
and its pid.
Usage: memhold MIB"""

import os
import sys
import time

STEP_MIB = 8


def main():
    name = os.path.basename(sys.argv[0]) or 'memhold'
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit('usage: %s MIB' % name)
    total_mib = int(sys.argv[1])
    print('%s: pid %d, touching %d MiB' % (name, os.getpid(), total_mib), flush=True)
    held = []
    left = total_mib
    while left > 0:
        step = min(STEP_MIB, left)
        # A one-byte pattern repeated is a memset: every page is touched.
        held.append(b'\x01' * (step << 20))
        left -= step
    print('%s: done, holding %d MiB' % (name, total_mib), flush=True)
    while True:
        time.sleep(3600)


if __name__ == '__main__':
    main()
