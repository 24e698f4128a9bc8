#!/usr/bin/env python3
"""The test cases of pytest's JUnit XML, one line each, for tests/labgrid/run.sh:

    junit_cases.py FILE      pass|fail|skip <TAB> name <TAB> reason

The name is the case's `rpibsp_name` property (labgrid/test_rpibsp.py records the check's own
name there), else the pytest name. An xfail (a TAP TODO) counts as a pass; an error (in a
fixture) as a failure. Exit status 1 if the file does not parse or has no <testsuite>.
"""
import sys
import xml.etree.ElementTree as ET


def one_line(text):
    return " ".join((text or "").split())


def main(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        sys.exit(f"{path}: {e}")
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if not suites:
        sys.exit(f"{path}: no <testsuite>")
    for suite in suites:
        for case in suite.iter("testcase"):
            name = case.get("name", "")
            for prop in case.iter("property"):
                if prop.get("name") == "rpibsp_name":
                    name = prop.get("value", name)
            status, reason = "pass", ""
            for tag in ("failure", "error"):
                el = case.find(tag)
                if el is not None:
                    status = "fail"
                    # the message, then the first lines of the text (the check's diagnostics)
                    text = (el.text or "").strip().splitlines()
                    reason = one_line(el.get("message")) or one_line(" ".join(text[:3]))
                    reason = reason.removeprefix("Failed: ")  # pytest.fail()'s prefix
                    break
            el = case.find("skipped")
            if status == "pass" and el is not None:
                if el.get("type") == "pytest.xfail":
                    reason = "TODO " + one_line(el.get("message"))
                else:
                    status = "skip"
                    reason = one_line(el.get("message"))
            print(f"{status}\t{one_line(name)}\t{reason}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
