"""Learning analytics: learning events ingested from `lti_tool.events`, rolled up per item,
context and day by jobs, shown to teachers on a dashboard and to learners as their progress, and
exported as CSV and xAPI statements."""
