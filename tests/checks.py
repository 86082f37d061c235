"""What the Python tests share: a named check that counts, and the summary
line and exit status of a test script."""
import sys


class Checks:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def ok(self, cond, what, detail=None):
        """Counts one check; a failure prints its name and detail lines."""
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            sys.stdout.write("FAIL: %s\n" % what)
            for line in detail or []:
                sys.stdout.write("    %s\n" % line)
        return cond

    def finish(self):
        """The summary line; the exit status (1 on a failure or no check)."""
        sys.stdout.write("%s: %d passed, %d failed\n" % (self.name, self.passed, self.failed))
        return 1 if self.failed or not self.passed else 0
