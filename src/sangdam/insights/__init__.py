"""Consultation intelligence across conversations (issue 16): call drivers and other aggregates in SQL
(``aggregate``), knowledge gaps clustered with e5 + scikit-learn (``gaps``), the report (``report``) and the
synthetic-traffic generator (``traffic``). See docs/insights.md."""
