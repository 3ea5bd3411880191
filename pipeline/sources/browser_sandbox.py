"""Chromium with its own sandbox, also when the worker runs as root.

Chromium refuses to start its sandbox as root, and Playwright passes ``--no-sandbox``
unless asked not to, so a root worker used to run every renderer of every stranger's page
unsandboxed. As root we start Chromium through a small wrapper that hands the
browser's profile directory to an unprivileged user (``CATALOG_BROWSER_USER``, default
``nobody``) and becomes that user with ``setpriv`` before exec; Chromium then builds its
namespace sandbox (unprivileged user namespaces) as usual. Not as root, the sandbox is
simply asked for. Where the OS allows neither (no user namespaces, no setuid helper, no
such user), :class:`BrowserPool` falls back to ``--no-sandbox`` and logs a warning.
"""

from __future__ import annotations

import logging
import os
import pwd
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxPlan:
    """How to launch: ``executable`` (None: Playwright's own), with the sandbox or not."""

    executable: str | None
    sandbox: bool
    user: str | None  # the unprivileged user Chromium runs as, when we are root
    workdir: Path | None  # the wrapper and the user's home, removed on close
    why: str

    def cleanup(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def plan_sandbox(executable: str | None, bundled: str | None, user: str) -> SandboxPlan:
    """The sandboxed launch this process can attempt (the caller falls back on failure)."""
    if os.geteuid() != 0:
        return SandboxPlan(executable, True, None, None, "not running as root")
    target = executable or bundled
    setpriv = shutil.which("setpriv")
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return _unsandboxed(executable, f"running as root and user {user!r} does not exist")
    if target is None or setpriv is None:
        return _unsandboxed(executable, "running as root and setpriv is not installed")
    if account.pw_uid == 0:
        return _unsandboxed(executable, f"CATALOG_BROWSER_USER {user!r} is root")
    workdir = Path(tempfile.mkdtemp(prefix="catalog-sync-chromium-"))
    workdir.chmod(0o711)  # the user may pass through to its home, not list or write
    home = workdir / "home"
    home.mkdir(mode=0o700)
    os.chown(home, account.pw_uid, account.pw_gid)
    ids = f"{account.pw_uid}:{account.pw_gid}"
    wrapper = workdir / "chromium"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# Chromium will not sandbox itself as root: give the profile Playwright made to an\n"
        "# unprivileged user, then become that user and start Chromium.\n"
        'for arg in "$@"; do\n'
        '  case "$arg" in --user-data-dir=*) chown -R '
        f'{ids} "${{arg#--user-data-dir=}}" ;; esac\n'
        "done\n"
        f"export HOME={shlex.quote(str(home))}\n"
        f"exec {shlex.quote(setpriv)} --reuid={account.pw_uid} --regid={account.pw_gid} "
        f'--clear-groups -- {shlex.quote(target)} "$@"\n'
    )
    wrapper.chmod(0o700)
    return SandboxPlan(str(wrapper), True, user, workdir, f"as user {user!r}")


def _unsandboxed(executable: str | None, why: str) -> SandboxPlan:
    return SandboxPlan(executable, False, None, None, why)
