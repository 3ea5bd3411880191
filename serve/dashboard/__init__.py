"""The operator dashboard's files (package data beside this module); the routes live in
``serve.routes.dashboard``."""
