"""Test-wide setup: gevent patches the standard library before anything imports socket, ssl or websocket."""

from gevent import monkey

monkey.patch_all()
