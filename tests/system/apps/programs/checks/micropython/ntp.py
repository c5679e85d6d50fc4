"""micropython-lib's ``ntptime``, unmodified (``lib/ntptime.py`` as ``mip`` installs it),
against the test's NTP responder in the lab (``NtpPeer`` in tests/system/test_programs.py),
reached by its DNS name through ``ntptime.host`` as the module documents.  Two queries: the
responder answers the first with a time before the NTP era rollover of 2036 and the second with
one after it (ntptime's Y2036 rule).  ``ntptime.settime()`` needs ``machine.RTC``, which Kiln
does not have yet: ``ntptime.time()`` is what it would set."""
import time

import ntptime


def run(ctx):
    ntptime.host = ctx.args["test_ntp_host"]
    ntptime.timeout = 10
    first = ntptime.time()
    second = ntptime.time()
    return {"first": first, "second": second, "epoch": time.gmtime(0)[0],
            "first_utc": "%04d-%02d-%02dT%02d:%02d:%02d" % time.gmtime(first)[:6]}
