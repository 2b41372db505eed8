"""Simulated users and the personalization benchmark (issue 5)."""
