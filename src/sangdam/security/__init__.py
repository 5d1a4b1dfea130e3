"""Process-level security controls (data sovereignty: no unexpected outbound connections)."""
