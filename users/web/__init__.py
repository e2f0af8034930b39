"""The web UI side: the start form, the WebSocket view's data and its tab (the JavaScript build is users/web/ui/).

Imports any package of users/ but the User classes (users/base.py).
"""
