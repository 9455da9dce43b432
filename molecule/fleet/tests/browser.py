# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A headless chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe): the
verifier's real browser, with the standard library only (no chromedriver, no websocket client).

Chromium reads commands from its fd 3 and writes answers and events to its fd 4, each a JSON
message ended by a NUL byte.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--hide-scrollbars',
         '--remote-debugging-pipe']


def find_chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(Exception):
    pass


class Browser(object):
    """One chromium with a fresh profile, and one page (a tab) attached in flat mode."""

    def __init__(self, binary=None, timeout=60):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise BrowserError('no chromium on PATH (Debian: apt-get install chromium)')
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix='lowmem-chromium-')
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def child_fds():
            # Out of the way first, so that neither dup2 overwrites the other's source.
            commands, answers = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10), fcntl.fcntl(answers_write, fcntl.F_DUPFD, 10)
            os.dup2(commands, 3)
            os.dup2(answers, 4)

        self.process = subprocess.Popen(
            [self.binary] + FLAGS + ['--user-data-dir=' + self.profile, 'about:blank'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=child_fds, pass_fds=(3, 4),
            close_fds=True)
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b''
        self._next_id = 0
        self.session = None
        target = self.call('Target.createTarget', url='about:blank')['targetId']
        self.session = self.call('Target.attachToTarget', targetId=target, flatten=True)['sessionId']

    def _read_message(self, deadline):
        while b'\0' not in self._buffer:
            left = deadline - time.time()
            if left <= 0:
                raise BrowserError('chromium did not answer within %d s' % self.timeout)
            ready, _w, _x = select.select([self._answers], [], [], left)
            if ready:
                chunk = os.read(self._answers, 1 << 20)
                if not chunk:
                    raise BrowserError('chromium closed its pipe: %s' % self.stderr())
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b'\0', 1)
        return json.loads(message.decode('utf-8'))

    def call(self, method, **params):
        self._next_id += 1
        message = {'id': self._next_id, 'method': method, 'params': params}
        if self.session and not method.startswith('Target.'):
            message['sessionId'] = self.session
        os.write(self._commands, json.dumps(message).encode('utf-8') + b'\0')
        deadline = time.time() + self.timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get('id') == self._next_id:
                if 'error' in answer:
                    raise BrowserError('%s: %s' % (method, answer['error']))
                return answer.get('result', {})

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (promises awaited), as JSON types."""
        result = self.call('Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in result:
            raise BrowserError('%s: %s' % (expression, result['exceptionDetails']))
        return result['result'].get('value')

    def open(self, path, width=1280, height=900):
        """Load a local file and wait for its load event."""
        self.call('Emulation.setDeviceMetricsOverride', width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.call('Page.enable')
        self.call('Page.navigate', url='file://' + os.path.abspath(path))
        self.evaluate("new Promise(function (done) { if (document.readyState === 'complete' "
                      "&& location.protocol === 'file:') { done(); } else { addEventListener('load', done); } })")

    def screenshot(self, path, width=1280):
        """A PNG of the whole page, written to path."""
        height = int(self.evaluate('Math.ceil(document.documentElement.scrollHeight)'))
        self.call('Emulation.setDeviceMetricsOverride', width=width, height=height, deviceScaleFactor=1, mobile=False)
        data = self.call('Page.captureScreenshot', format='png', captureBeyondViewport=True)['data']
        with open(path, 'wb') as handle:
            handle.write(base64.b64decode(data))
        return path

    def stderr(self):
        try:
            return self.process.stderr.read(4096).decode('utf-8', 'replace') if self.process.poll() is not None else ''
        except (IOError, OSError):
            return ''

    def close(self):
        try:
            if self.process.poll() is None:
                try:
                    self.call('Browser.close')
                except BrowserError:
                    pass
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        finally:
            for fd in (self._commands, self._answers):
                try:
                    os.close(fd)
                except OSError:
                    pass
            if self.process.stderr:
                self.process.stderr.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
