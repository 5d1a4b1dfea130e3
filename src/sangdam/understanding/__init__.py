"""Understanding: command generators turn a customer message into typed commands (see commands.py)."""
