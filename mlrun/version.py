"""The package version, in a module of its own: any module reads it without importing mlrun's root."""

VERSION = "0.1.0"
