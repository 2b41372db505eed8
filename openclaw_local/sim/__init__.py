"""Simulated users and the personalization benchmark."""
