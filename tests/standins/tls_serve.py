"""TLS for the stand-ins' socketserver servers: the listener is wrapped so that each
connection's handshake runs on its own thread (a client that never finishes one holds
up nobody else), and a failed handshake (the client refused the certificate, or sent
none where one is required) is reported instead of served."""

import ssl


def wrap_listener(server, context):
    """Makes server (a socketserver.TCPServer) accept TLS with context (server side)."""
    server.socket = context.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)


def handshake(request, timeout=10):
    """Completes the handshake of an accepted connection: None when it succeeded (or
    the connection is not TLS), else what went wrong."""
    if not isinstance(request, ssl.SSLSocket):
        return None
    try:
        request.settimeout(timeout)
        request.do_handshake()
        request.settimeout(None)
        return None
    except (ssl.SSLError, OSError) as e:
        return str(e) or type(e).__name__
