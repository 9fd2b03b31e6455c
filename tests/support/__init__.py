"""Helpers for tests that drive whole flows over real HTTP: live servers and a scripted browser."""
