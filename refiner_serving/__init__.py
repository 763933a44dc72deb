"""How our two HTTP servers (the emulator and the webhook receiver) listen, announce and run.

``listen`` binds the socket (standard library); ``server`` runs uvicorn and prints one ready
line (it needs the server stack, the ``webhooks`` extra); ``process`` runs a server CLI as a
subprocess for tests, the benchmarks and the demo (standard library). The tap and the target
import none of them.
"""
