"""The dashboard's one data layer: pure reads of the warehouse, one module per page domain.

Contract of every read function here:

* signature ``(wh, scope, ...) -> DataFrame`` (or a plain value): ``wh`` a :class:`warehouse.Warehouse` (read-only
  is enough), ``scope`` the :class:`warehouse.AccountScope` of the signed-in user, **required** (no default;
  ``None`` or a bare account id raises :class:`TypeError` through :func:`warehouse.scope.require_scope`). The
  restriction is applied in the warehouse query (:func:`warehouse.repos.tenant.read`), never afterwards.
  Market data (``daily_bars``) belongs to no account: :func:`performance.benchmark_closes` and
  :mod:`prices` take no scope.
* no Streamlit: :mod:`dashboards.cache` wraps these in ``st.cache_data`` (keyed on the URL and the scope), and the
  pages in ``app_pages/`` only lay the answers out.

Units: ``*_usd`` columns are US dollars; weights, returns and drawdowns are fractions (0.01 = 1 %) unless a
docstring says percent; dates are ``datetime.date`` (America/New_York sessions) in what the reads return and
``datetime64`` in the derived frames meant for charts.

Modules: :mod:`.store` (which warehouse, is it readable), :mod:`.common` (accounts, symphonies, latest session),
:mod:`.overview`, :mod:`.library`, :mod:`.performance`, :mod:`.backtests`, :mod:`.orders`, :mod:`.prices`
(closes for the detail page and the replay: the warehouse's bars, what the daily graph traded on).
"""
