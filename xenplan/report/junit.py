"""JUnit XML for CI test reports (Jenkins, GitLab, GitHub test reporters).

``testsuites`` > one ``testsuite`` per input > ``testcase``s: first the
verdict (``boot``: a failure when Xen would not boot), then one per rule
that fired, a failure when any of its findings is an error. Warnings and
notes do not fail a test case (JUnit has no such level); they are listed
in its ``system-out`` so the report still shows them.

Built with ``xml.etree``: escaping is the library's job, not ours. Only
characters XML 1.0 cannot carry at all are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from xenplan.analysis import Analysis
from xenplan.checks.finding import Finding

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _finding_line(f: Finding) -> str:
    where = ""
    if f.source is not None:
        where = f.source.file + (f":{f.source.line}" if f.source.line is not None else "")
        if f.source.offset is not None:
            where += f" (offset {f.source.offset:#x})"
        where += ": "
    text = f"{f.severity}: {where}{f.path + ': ' if f.path else ''}{f.message}"
    if not f.reached:
        text += " [not reached: Xen stops earlier]"
    return text


def _verdict_case(suite: ET.Element, a: Analysis, name: str) -> bool:
    r = a.result
    t = a.system.target
    case = ET.SubElement(suite, "testcase", name=f"boot (Xen {t.version}, {t.arch})", classname=name,
                         file=_x(a.input))
    if r.outcome == "boots":
        return False
    fa = r.failed_at
    where = "" if fa is None else fa.stage + (f" {fa.domain}" if fa.domain else "")
    message = f"Xen would {r.outcome}" + (f" at {where}" if where else "")
    if fa is not None and fa.message:
        message += f": {fa.message}"
    body = [message]
    if fa is not None and fa.rule:
        body.append(f"rule: {fa.rule}")
    body += [f"dropped module {m.path} [{m.start:#x}, {m.start + m.size:#x})" for m in r.dropped_modules]
    body += [f"domain {d.name}: {d.status}" for d in r.domains]
    fail = ET.SubElement(case, "failure", message=_x(message), type=r.outcome)
    fail.text = _x("\n".join(body))
    return True


def _rule_case(suite: ET.Element, a: Analysis, rule: str, fs: list[Finding], name: str) -> bool:
    first = fs[0]
    case = ET.SubElement(suite, "testcase", name=f"{rule} {first.slug}", classname=name,
                         file=_x(first.source.file if first.source is not None else a.input))
    if first.source is not None and first.source.line is not None:
        case.set("line", str(first.source.line))
    errors = [f for f in fs if f.severity == "error"]
    lines = "\n".join(_x(_finding_line(f)) for f in fs)
    if errors:
        msg = errors[0].message if len(errors) == 1 else f"{errors[0].message} (and {len(errors) - 1} more)"
        fail = ET.SubElement(case, "failure", message=_x(msg), type="error")
        fail.text = lines
        return True
    ET.SubElement(case, "system-out").text = lines
    return False


def document(analyses: Sequence[Analysis], by_release: bool = False) -> ET.Element:
    """``by_release``: several releases in one run; each suite (and its cases' class) names its release."""
    root = ET.Element("testsuites", name="xenplan")
    total_tests = total_failures = 0
    for a in analyses:
        name = _x(a.input + (f" (Xen {a.system.target.version})" if by_release else ""))
        suite = ET.SubElement(root, "testsuite", name=name)
        by_rule: dict[str, list[Finding]] = {}
        for f in a.findings:
            by_rule.setdefault(f.rule, []).append(f)
        failures = int(_verdict_case(suite, a, name))
        for rule, fs in by_rule.items():
            failures += _rule_case(suite, a, rule, fs, name)
        tests = 1 + len(by_rule)
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        if a.notes:
            props = ET.Element("properties")
            for n in a.notes:
                ET.SubElement(props, "property", name="note", value=_x(n))
            suite.insert(0, props)
        total_tests += tests
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    return root


def render(analyses: Sequence[Analysis], by_release: bool = False) -> str:
    root = document(analyses, by_release)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
