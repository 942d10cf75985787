"""The soak test: a long mixed load on one server with Redis frozen in the middle.

``python -m benchmarks.soak --duration 600 --freeze 20`` (also ``tox -e soak``) starts a
throwaway ``redis-server`` and one ``python -m impl serve`` on it, drives sends, reads,
edits, deletes, mark-read, history pages and event replays from one client per user with
a socket each, stops Redis with SIGSTOP for ``--freeze`` seconds halfway through, samples
the server's RSS, and at the end checks through the public API that nothing was lost,
duplicated or miscounted. Modules:

    services   the Redis and Chat API processes, the freeze, RSS samples
    traffic    the HTTP client that counts every status, and the send ledger
    world      users, chats and sockets
    load       one actor per user: the mixed, rate-limit-respecting load
    checks     the verification through the public API
    report     the JSON report and the readable table
    __main__   the command line
"""
