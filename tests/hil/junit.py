#!/usr/bin/env python3
"""Reads the JUnit XML that rpibsp-hil writes, for tests/hil/run.sh.

  junit.py cases FILE                     one line per test case:
                                          pass|fail|skip <TAB> classname <TAB> name <TAB> reason
  junit.py case FILE CLASS NAME           status, time and the case's text (failure or output)
  junit.py section FILE CLASS NAME TITLE  the lines of one detail section of a case, e.g.
                                          "output" or "kernel messages meanwhile"
  junit.py prop FILE NAME                 a property of the suite (attempt1, attempt1.log, ...)
  junit.py attr FILE NAME                 an attribute of the <testsuite> (tests, failures, ...)

Exit status 1 when the file does not parse or the case/property does not exist.
"""
import sys
import xml.etree.ElementTree as ET


def one_line(text):
    return " ".join((text or "").split())


def suite(path):
    root = ET.parse(path).getroot()
    found = root if root.tag == "testsuite" else root.find("testsuite")
    if found is None:
        sys.exit(f"{path}: no <testsuite>")
    return found


def status(case):
    if case.find("failure") is not None or case.find("error") is not None:
        return "fail"
    if case.find("skipped") is not None:
        return "skip"
    return "pass"


def text(case):
    for tag in ("failure", "error", "system-out"):
        el = case.find(tag)
        if el is not None and el.text:
            return el.text
    return ""


def find_case(path, classname, name):
    for case in suite(path).iter("testcase"):
        if case.get("classname") == classname and case.get("name") == name:
            return case
    sys.exit(f"{path}: no test case {classname!r} {name!r}")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, path = argv[1], argv[2]
    if cmd == "cases":
        for case in suite(path).iter("testcase"):
            st = status(case)
            reason = ""
            for tag in ("failure", "error", "skipped"):
                el = case.find(tag)
                if el is not None:
                    reason = one_line(el.get("message") or el.text)
            name = one_line(case.get("name"))
            print(f"{st}\t{case.get('classname')}\t{name}\t{reason}")
    elif cmd == "case" and len(argv) == 5:
        case = find_case(path, argv[3], argv[4])
        print(status(case), case.get("time", ""))
        print(text(case))
    elif cmd == "section" and len(argv) == 6:
        lines = text(find_case(path, argv[3], argv[4])).split("\n")
        title = argv[5] + ":"
        if title not in lines:
            sys.exit(f"no section {title!r}")
        for line in lines[lines.index(title) + 1:]:
            # The next section starts with a line "<words>:" of its own.
            if line.endswith(":") and not line.startswith(" ") and " " in line and line[:-1].replace(" ", "").isalpha():
                break
            print(line)
    elif cmd == "prop" and len(argv) == 4:
        for p in suite(path).iter("property"):
            if p.get("name") == argv[3]:
                print(p.get("value"))
                return
        sys.exit(f"{path}: no property {argv[3]!r}")
    elif cmd == "attr" and len(argv) == 4:
        value = suite(path).get(argv[3])
        if value is None:
            sys.exit(f"{path}: no attribute {argv[3]!r}")
        print(value)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
