"""Serving runs over HTTP: durable runs that outlive their connection.

``RunManager`` starts runs in the background and writes their events to a
``RunStore``; viewers on any worker read them from a cursor. ``MemoryStore``
keeps them in this process, ``RedisStore`` (extra ``redis``) in a Redis shared
by many workers.
"""
