#!/usr/bin/env python3
"""Prints how many tests ctest skipped and why, from its JUnit file (ctest --output-junit).

A test skips (GTEST_SKIP) where the machine lacks what it checks, e.g. a page cache that can be
dropped; the count and the reasons belong in every test run's output, not only in the logs.
"""
import sys
import xml.etree.ElementTree as ET


def reason(output: str) -> str:
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.rstrip().endswith("Skipped"):
            text = " ".join(l.strip() for l in lines[i + 1:] if l.strip() and not l.startswith("["))
            return text.split("[  SKIPPED ]")[0].strip() or "(no reason given)"
    return "(no reason given)"


def main(path: str, label: str) -> None:
    root = ET.parse(path).getroot()
    cases = list(root.iter("testcase"))
    skipped = [c for c in cases if c.get("status") in ("notrun", "skipped") or c.find("skipped") is not None]
    print(f"{label}: {len(cases)} tests, {len(skipped)} skipped")
    for c in skipped:
        print(f"  skipped {c.get('name')}: {reason(c.findtext('system-out') or '')}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "tests")
