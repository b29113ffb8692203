"""Presentation helpers of the dashboard: text formatting (:mod:`.format`), plotly figures (:mod:`.charts`) and
the symphony tree as Graphviz DOT (:mod:`.tree`). Pure: no Streamlit, no warehouse."""
