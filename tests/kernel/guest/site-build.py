# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A build-like job for the real-kernel VMs: it allocates and touches memory
in 8 MiB steps until it holds MIB MiB (default 560: more than the 512 MiB guest
has, so it completes only with swap), then exits 0. Its first line names its
pid, so a caller knows it from the kill records. tests/kernel/build.sh installs
it in the guests as /usr/local/bin/site-build behind a #!/usr/bin/python3 line,
so the kernel names it `site-build` (the story's job) in its records.
Usage: site-build [MIB]"""

import os
import sys

STEP_MIB = 8


def main():
    total_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 560
    print('site-build: pid %d, touching %d MiB in %d MiB steps' % (os.getpid(), total_mib, STEP_MIB), flush=True)
    held = []
    while len(held) * STEP_MIB < total_mib:
        # A one-byte pattern repeated is a memset: every page is touched.
        held.append(b'\x01' * (STEP_MIB << 20))
    print('site-build: done, %d MiB touched' % (len(held) * STEP_MIB))


if __name__ == '__main__':
    main()
