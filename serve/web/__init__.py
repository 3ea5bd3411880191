"""The shoppers' search page: its files (package data beside this module), thumbnails
and imaging. The routes live in ``serve.routes.web``."""
