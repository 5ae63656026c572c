"""Modelport: put a trained model in front of people, as a web page and a JSON API."""

__version__ = "0.1.0"
