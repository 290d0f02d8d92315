"""Xen's panic and BUG texts, per release (VER-002).

Line numbers of BUGs are those of the recorded release tags; other point
releases of the same line are given the tag's numbers as the best estimate.
"""

from __future__ import annotations

from xenplan.model.release import XenRelease

DATA_ABORT = "CPU0: Unexpected Trap: Data Abort"


def _bug(rel: XenRelease, line: int) -> str:
    return f"Xen BUG at {rel.bug_file}:{line}"


def bug_mark_page_free(rel: XenRelease) -> str:
    """``mark_page_free()``'s BUG (page initialised twice / impossible state)."""
    return _bug(rel, rel.bug_mark_page_free_line)


def bug_alloc_boot_pages(rel: XenRelease) -> str:
    """``alloc_boot_pages()``'s final BUG (no region can hold the request)."""
    return _bug(rel, rel.bug_alloc_boot_pages_line)


def with_rc(rel: XenRelease, text: str, rc: int) -> str:
    """The domain creation and construction panics, with ``(rc = N)`` where the release prints it."""
    return f"{text} (rc = {rc})" if rel.rc_in_panic else text


def error_creating(rel: XenRelease, name: str, rc: int = -22) -> str:
    return with_rc(rel, f"Error creating domain {name}", rc)


def could_not_set_up(rel: XenRelease, name: str, rc: int) -> str:
    return with_rc(rel, f"Could not set up domain {name}", rc)


def dom0_fallback(rel: XenRelease, rc: int = -2) -> str:
    if rel.dom0_panic_names_d0:
        return f"Could not set up d0 guest OS (rc = {rc})"
    return with_rc(rel, "Could not set up DOM0 guest OS", rc)


def early_fdt(rc: int) -> str:
    return f"Early FDT parsing failed ({rc})"


def static_alloc_failed(domid: int) -> str:
    return f"Failed to allocate requested static memory for domain d{domid}."


def static_assign_failed(domid: int) -> str:
    return f"Failed to assign requested static memory for direct-map domain d{domid}."


def dyn_alloc_failed(unallocated_kib: int) -> str:
    return (f"Failed to allocate requested domain memory. {unallocated_kib}KB unallocated. "
            "Fix the VMs configurations.")


KRN_NO_ROOM = "Not enough memory in the first bank for the kernel+dtb+initrd"
KRN_NO_SPOT = "Unable to find suitable location for dtb+initrd"
EVTCHN_FAILED = "Could not set up domains evtchn"
