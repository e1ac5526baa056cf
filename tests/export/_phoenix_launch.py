"""Start Arize Phoenix with its OTLP gRPC listener on loopback (run by Phoenix's own interpreter).

Phoenix binds gRPC to every interface (``[::]``) and has no setting for it; the tests must not listen
beyond 127.0.0.1, so the address is rewritten before the server starts.
"""

import sys

import grpc

_new_server = grpc.aio.server


def _loopback_server(*args, **kwargs):  # type: ignore[no-untyped-def]
    server = _new_server(*args, **kwargs)
    add_port = server.add_insecure_port
    server.add_insecure_port = lambda address: add_port(address.replace("[::]", "127.0.0.1"))
    return server


grpc.aio.server = _loopback_server

from phoenix.server.main import main  # noqa: E402

sys.argv = ["phoenix", "serve"]
sys.exit(main())
