#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs one integration test module the way meson runs every one of them (meson.build):

    python3 runner.py test_kcat [unittest arguments, e.g. KcatList.test_list_json]

meson keeps a single result per test executable and reads it from the exit status, while
unittest exits 0 when tests were skipped: a skip would show as OK. Our rule is that no skipped
test counts as a pass, so the status here is

    1   (FAIL) a test failed or raised, an expected failure passed, or no test ran at all
    77  (SKIP, meson's code) nothing failed but one test or more was skipped, even if the
        others passed: the module did not prove all it claims, and scripts/test counts it
        under "skipped", never under "passed"
    0   (OK)   every test ran and passed (an expected failure, still failing, is a pass)

The last line of the output names the skipped tests and why, for meson's log."""

import importlib
import sys
import unittest

EXIT_FAIL = 1
EXIT_SKIP = 77


def main(argv):
    if len(argv) < 2:
        print("usage: runner.py TEST_MODULE [unittest arguments]", file=sys.stderr)
        return 2
    name = argv[1]
    module = importlib.import_module(name)
    # unittest reports on stderr; our lines go there too, so that they come out in order.
    program = unittest.main(module=module, argv=[name] + argv[2:], verbosity=2, exit=False)
    result = program.result
    if not result.wasSuccessful():
        print("runner: %s FAILED" % name, file=sys.stderr)
        return EXIT_FAIL
    if result.testsRun == 0 and not result.skipped:
        # From Python 3.12 on, unittest.main() itself exits 5 here; Debian 12's 3.11 exits 0.
        print("runner: %s ran no test (a wrong test name?): FAIL" % name, file=sys.stderr)
        return EXIT_FAIL
    if result.skipped:
        print("runner: %s: %d skipped, so the module is a SKIP, not OK:"
              % (name, len(result.skipped)), file=sys.stderr)
        for test, reason in result.skipped:
            print("runner:   %s: %s" % (test.id(), reason), file=sys.stderr)
        return EXIT_SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
