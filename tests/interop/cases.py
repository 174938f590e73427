"""What the Python interop suites share: run every case, report each one,
and fail the run at the end if any failed (so one failure does not hide
the others)."""
import sys

failures = []


def check(name, fn):
    try:
        fn()
        print(f"ok   {name}")
    except Exception as e:  # report every case, then fail the run
        failures.append(name)
        print(f"FAIL {name}: {e!r}")


def finish(suite):
    if failures:
        print(f"{len(failures)} {suite} case(s) failed: {failures}")
        sys.exit(1)
    print(f"{suite} suite passed")
