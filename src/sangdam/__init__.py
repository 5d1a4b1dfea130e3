"""Sangdam (상담): a self-hosted, Korean-first agentic AI contact centre for telecom operators."""

__version__ = "0.1.0"
