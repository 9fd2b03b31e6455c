"""The tool's admin area: LMS registrations, keys, health, and the audit log of admin actions.

Separate from LTI launches: admins sign in with an account of this tool (`flask admin create`),
a first-party session cookie and session-bound CSRF tokens, never through an LMS launch.
"""
