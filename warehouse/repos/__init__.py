"""Repositories: the named queries and domain writes over the :class:`warehouse.Warehouse` store.

* :mod:`warehouse.repos.symphonies` — registration (ownership, activation limit, slug), status, active lists;
* :mod:`warehouse.repos.ledgers` — target allocations, holdings snapshots and NAV of the symphony ledgers;
* :mod:`warehouse.repos.orders` — the session's account orders, each recorded as its broker answers, and fills;
* :mod:`warehouse.repos.bars` — adjusted closes and bar dates (market data, shared by every account);
* :mod:`warehouse.repos.audit` — the append-only audit trail (who, role, account, what, when, from where);
* :mod:`warehouse.repos.tenant` — scoped reads of any user table (the dashboards' tenant filter).

Every function that returns tenant rows takes an :class:`warehouse.scope.AccountScope`, required.
"""
from warehouse.repos import audit, bars, ledgers, orders, symphonies, tenant

__all__ = ["audit", "bars", "ledgers", "orders", "symphonies", "tenant"]
