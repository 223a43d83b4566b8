# SPDX-License-Identifier: Apache-2.0
"""The pinned versions of the Python clients (requirements-clients.txt), and a check that the
running interpreter has them: the tests of today's clients run with the venv that scripts/setup
makes in .cache/venv, never with Debian's python3 and its older client packages."""

import importlib.metadata
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "requirements-clients.txt")


def pinned():
    """{distribution name: version} from requirements-clients.txt."""
    out = {}
    with open(REQUIREMENTS, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
                if not m:
                    raise AssertionError("%s: not NAME==VERSION: %r" % (REQUIREMENTS, line))
                out[m.group(1)] = m.group(2)
    return out


def require(*names):
    """Raises AssertionError unless each named distribution (and every other pin) is installed
    at its pinned version in this interpreter."""
    want = pinned()
    for name in names:
        if name not in want:
            raise AssertionError("%s is not pinned in %s" % (name, REQUIREMENTS))
    wrong = []
    for name, version in sorted(want.items()):
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            have = None
        if have != version:
            wrong.append("%s %s (pinned %s)" % (name, have or "missing", version))
    if wrong:
        raise AssertionError("%s lacks the pinned clients: %s. Run ./scripts/setup, which makes "
                             ".cache/venv, then `meson setup --reconfigure BUILD_DIR` so that the "
                             "tests run with its python" % (sys.executable, ", ".join(wrong)))
