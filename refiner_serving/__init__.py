"""How our two HTTP servers (the emulator and the webhook receiver) are served and run.

``server`` binds the socket and runs uvicorn, printing one ready line (it needs the server
stack: the ``webhooks`` extra); ``process`` runs a server CLI as a subprocess for tests, the
benchmarks and the demo (standard library only). The tap and the target import neither.
"""
