"""Users, passwords and roles: who may log in and which pages each role sees.

Passwords are stored as ``scrypt$N$r$p$salt$hash`` (``hashlib.scrypt``, a random 16-byte salt
per user, both parts base64). scrypt is memory-hard, so a stolen table is expensive to attack
with GPUs; the parameters travel with each hash, so they can be raised later without breaking
old hashes. Verification compares digests in constant time, and an unknown user name costs
the same scrypt as a known one, so response time does not reveal which user names exist.

The HTTP side (login page, signed session cookie) lives in :mod:`command_center.app.login`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis.catalog import Label
from gis.errors import CommandCenterError
from gis.loop.states import ROLE_LABELS as LOOP_ROLE_LABELS
from gis.models import APP_ROLES, AppUser, Department

# scrypt cost: 2**14 * 8 * 128 B = 16 MiB and ~50 ms per hash on one core: slow enough for an
# attacker with a stolen table, fast enough for a login form.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD_LENGTH = 8

# One wording of each role everywhere: the event timeline's, less its "system" actor, who never
# logs in.
ROLE_LABELS: dict[str, Label] = {role: LOOP_ROLE_LABELS[role] for role in APP_ROLES}

# Pages in navigation order; each role sees a subset. The first allowed page is its home.
PAGES = ("wall", "map", "events", "planning", "reports")
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "staff": ("map", "events"),
    "duty_officer": ("wall", "map", "events"),
    "planner": ("map", "planning", "reports"),
    "leader": ("wall", "map", "events", "planning", "reports"),
    "department": ("map", "events"),
    "admin": PAGES,
}


class AuthError(CommandCenterError):
    """A user could not be created or changed (bad name, weak password, unknown role)."""

    http_status = 400


@dataclass(frozen=True, slots=True)
class UserInfo:
    """The logged-in user as the pages see it (never the password hash)."""

    username: str
    display_name: str
    role: str
    # Role ``department`` only: the code (``cgj``) and name of the department the user works
    # for; the closed loop lets such a user start and finish only that department's events.
    department: str | None = None
    department_name: str | None = None

    @property
    def pages(self) -> tuple[str, ...]:
        """The pages this user's role may open, in navigation order."""
        return pages_for(self.role)


def pages_for(role: str) -> tuple[str, ...]:
    """The pages ``role`` may open (empty for an unknown role)."""
    return ROLE_PAGES.get(role, ())


def can_open(role: str, page: str) -> bool:
    """Whether ``role`` may open ``page``."""
    return page in pages_for(role)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """Hash ``password`` with scrypt and a fresh random salt.

    Examples
    --------
    >>> h = hash_password("correct horse")
    >>> h.startswith("scrypt$") and verify_password("correct horse", h)
    True
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P,
                            dklen=_DKLEN, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time; False for a malformed hash)."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r),
                                p=int(p), dklen=len(expected), maxmem=_MAXMEM)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Verified against when the user name is unknown, so that path costs one scrypt too.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def authenticate(session: Session, username: str, password: str) -> UserInfo | None:
    """The user when ``username``/``password`` are right and the account is enabled."""
    user = session.scalars(sa.select(AppUser).where(AppUser.username == username)).first()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, user.password_hash) or user.disabled:
        return None
    dept = session.get(Department, user.department_id) if user.department_id else None
    return UserInfo(user.username, user.display_name or user.username, user.role,
                    dept.code if dept else None, dept.name_zh if dept else None)


def check_new_user(username: str, password: str, role: str,
                   department: str | None = None) -> None:
    """Raise :class:`AuthError` (in Chinese and English) when the values cannot be stored.

    A ``department`` user must name the department (its code) it works for; nobody else may.
    Whether the code exists is checked by :func:`add_user` (it needs the database).
    """
    if role not in APP_ROLES:
        raise AuthError(f"未知角色：{role}（可选 {', '.join(APP_ROLES)}）",
                        f"unknown role: {role} (one of {', '.join(APP_ROLES)})")
    if role == "department" and not department:
        raise AuthError("职能部门用户须指定所属部门（--department 部门编码）",
                        "a department user needs a department (--department CODE)")
    if role != "department" and department:
        raise AuthError(f"只有职能部门用户（department）才能指定部门，角色 {role} 不能",
                        f"only department users carry a department, not role {role}")
    if not username or len(username) > 64 or not all(
            ch.isascii() and (ch.isalnum() or ch in "_.@-") for ch in username):
        raise AuthError("用户名只能包含字母、数字和 _ . @ -（最长 64 位）",
                        "a user name may hold letters, digits and _ . @ - (64 at most)")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"密码至少 {MIN_PASSWORD_LENGTH} 位",
                        f"the password needs at least {MIN_PASSWORD_LENGTH} characters")


def add_user(session: Session, username: str, password: str, role: str,
             display_name: str = "", *, department: str | None = None) -> UserInfo:
    """Create a user (the caller commits).

    Parameters
    ----------
    department
        The department code (``cgj`` …) of a ``department`` user; required for that role and
        refused for every other.

    Raises
    ------
    AuthError
        The name is taken or invalid, the password too short, the role unknown, or the
        department missing, unexpected or unknown.
    """
    check_new_user(username, password, role, department)
    taken = session.scalar(sa.select(sa.func.count()).select_from(AppUser)
                           .where(AppUser.username == username))
    if taken:
        raise AuthError(f"用户名已存在：{username}", f"user name already taken: {username}")
    dept = None
    if department:
        dept = session.scalars(sa.select(Department).where(Department.code == department)
                               ).first()
        if dept is None:
            known = session.scalars(sa.select(Department.code).order_by(Department.code)).all()
            raise AuthError(f"未知部门：{department}（可选 {', '.join(known) or '无'}）",
                            f"unknown department: {department} "
                            f"(one of {', '.join(known) or 'none yet'})")
    session.add(AppUser(username=username, display_name=display_name or username,
                        password_hash=hash_password(password), role=role,
                        department_id=dept.id if dept else None))
    session.flush()
    return UserInfo(username, display_name or username, role,
                    dept.code if dept else None, dept.name_zh if dept else None)


def set_password(session: Session, username: str, password: str) -> None:
    """Replace a user's password (the caller commits)."""
    user = session.scalars(sa.select(AppUser).where(AppUser.username == username)).first()
    if user is None:
        raise AuthError(f"没有用户：{username}", f"no such user: {username}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"密码至少 {MIN_PASSWORD_LENGTH} 位",
                        f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)


def list_users(session: Session) -> list[AppUser]:
    """All users ordered by user name."""
    return list(session.scalars(sa.select(AppUser).order_by(AppUser.username)))


# The demo login `command-center demo seed` creates: a documented, public password, for the
# demo district only. Disable or replace it before real data arrives.
DEMO_USERNAME, DEMO_PASSWORD = "demo", "demo-shizhong-2024"
# A demo handler of the urban management bureau (城管局), same public password, so the demo can
# show a department user's view: its events, its reminders, start and finish.
DEMO_DEPARTMENT_USER, DEMO_DEPARTMENT = "demo.cgj", "cgj"


def ensure_demo_user(engine: sa.Engine) -> tuple[str, str]:
    """Create the demo login (role admin) when missing; return its user name and password.

    The password is :data:`DEMO_PASSWORD`, documented in the README: it is a demo. An existing
    ``demo`` user is left alone; if its password was changed, the returned password is empty.
    When the department ``cgj`` exists, the department user :data:`DEMO_DEPARTMENT_USER` (same
    password) is created too, when missing.

    Examples
    --------
    >>> ensure_demo_user(engine)  # doctest: +SKIP
    ('demo', 'demo-shizhong-2024')
    """
    with Session(engine) as session:
        ensure_demo_department_user(session)
        user = session.scalars(sa.select(AppUser).where(AppUser.username == DEMO_USERNAME)
                               ).first()
        if user is None:
            add_user(session, DEMO_USERNAME, DEMO_PASSWORD, "admin", "演示管理员")
            session.commit()
            return DEMO_USERNAME, DEMO_PASSWORD
        still = verify_password(DEMO_PASSWORD, user.password_hash)
        return DEMO_USERNAME, DEMO_PASSWORD if still else ""


def ensure_demo_department_user(session: Session) -> bool:
    """Create :data:`DEMO_DEPARTMENT_USER` when missing and its department exists; whether
    the user exists afterwards (``command-center up`` prints its login only then)."""
    exists = session.scalar(sa.select(sa.func.count()).select_from(AppUser)
                            .where(AppUser.username == DEMO_DEPARTMENT_USER))
    if exists:
        return True
    has_dept = session.scalar(sa.select(sa.func.count()).select_from(Department)
                              .where(Department.code == DEMO_DEPARTMENT))
    if has_dept:
        add_user(session, DEMO_DEPARTMENT_USER, DEMO_PASSWORD, "department", "城管局演示处置员",
                 department=DEMO_DEPARTMENT)
        session.commit()
    return bool(has_dept)
