"""In-app and email notifications: what happened that a learner or teacher should hear about."""
