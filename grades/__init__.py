"""Grades: quiz attempts, score passback to the LMS (LTI Assignment and Grade Services) through an
outbox, and course rosters (Names and Role Provisioning Services)."""
