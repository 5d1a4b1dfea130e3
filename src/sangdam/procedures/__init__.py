"""Procedures as data: intents an operator adds with YAML files, and the runner that serves them.

``models`` (the file format), ``loader`` (packaged ``resources/procedures`` and ``$SANGDAM_HOME/procedures``,
validated and compiled), ``template`` (fields and conditions), ``extractors`` (how an ``ask`` reads its slot) and
``runner`` (``ProcedureAgent``: the procedure as a sub-agent). See docs/procedures.md.
"""

from sangdam.procedures.loader import ProcedureError, load_procedures, reset_procedures

__all__ = ["ProcedureError", "load_procedures", "reset_procedures"]
