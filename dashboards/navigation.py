"""The dashboard's pages, in sidebar order: the one list the router registers (``st.navigation``) and the
all-pages tests iterate, so a new page file is added here once and covered everywhere."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    """One page: ``path`` relative to ``dashboards/`` (``app_pages/x.py``), its title, icon and URL path
    (``None``: the default page at ``/``)."""

    path: str
    title: str
    icon: str
    url_path: str | None = None
    #: The roles that see the page in the navigation (``None``: every role); the page checks the role itself too.
    roles: tuple[str, ...] | None = None


PAGES: tuple[PageSpec, ...] = (
    PageSpec("app_pages/overview.py", "Overview", ":material/dashboard:"),
    PageSpec("app_pages/library.py", "Symphony library", ":material/library_books:", "library"),
    PageSpec("app_pages/symphony_detail.py", "Symphony detail", ":material/account_tree:", "symphony"),
    PageSpec("app_pages/performance.py", "Performance", ":material/trending_up:", "performance"),
    PageSpec("app_pages/backtests.py", "Backtests", ":material/history:", "backtests"),
    PageSpec("app_pages/research.py", "Research", ":material/science:", "research"),
    PageSpec("app_pages/orders.py", "Orders & positions", ":material/receipt_long:", "orders"),
    PageSpec("app_pages/notifications.py", "Notifications", ":material/notifications:", "notifications"),
    PageSpec("app_pages/audit.py", "Audit log", ":material/policy:", "audit"),
    PageSpec("app_pages/admin.py", "Admin", ":material/admin_panel_settings:", "admin", roles=("admin",)),
    PageSpec("app_pages/account_settings.py", "Account settings", ":material/settings:", "settings"),
)


def pages_for(role: str) -> tuple[PageSpec, ...]:
    """The :data:`PAGES` a user of ``role`` sees in the navigation, in sidebar order."""
    return tuple(p for p in PAGES if p.roles is None or role in p.roles)


__all__ = ["PageSpec", "PAGES", "pages_for"]
