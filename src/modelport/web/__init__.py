"""The edge: Flask routes, templates and error pages. Everything below it is Flask-free."""
