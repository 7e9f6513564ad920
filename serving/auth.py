"""Bearer-token auth for the gRPC server, as a server interceptor.

Clients send `authorization: Bearer <token>` metadata (grpc.access_token_call_credentials does
this over TLS). No or malformed header -> UNAUTHENTICATED; a token not in the file ->
PERMISSION_DENIED. The standard health service stays open, as load balancers probe it without
credentials. Tokens are compared in constant time and never logged.
"""
import hmac
import os
from typing import FrozenSet, Optional

import grpc

HEALTH_SERVICE_PREFIX = "/grpc.health.v1.Health/"


def read_tokens(path: str) -> FrozenSet[str]:
    """One token per line; blank lines and '#' comments ignored. An empty file is an error."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"bearer token file {path} does not exist; write one token per "
                                "line (e.g. `openssl rand -hex 32 > tokens.txt`)")
    with open(path) as f:
        tokens = frozenset(line.strip() for line in f
                           if line.strip() and not line.lstrip().startswith("#"))
    if not tokens:
        raise ValueError(f"bearer token file {path} holds no token; write one per line")
    return tokens


UNAUTHENTICATED = "missing 'authorization: Bearer <token>'"
DENIED = "the bearer token is not accepted"


def refusal(tokens: FrozenSet[str], header: str) -> Optional[str]:
    """None when the authorization header carries one of `tokens` (compared in constant time);
    otherwise UNAUTHENTICATED (no bearer token) or DENIED (an unknown one)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return UNAUTHENTICATED
    candidate = token.strip().encode()
    if not any(hmac.compare_digest(candidate, known.encode()) for known in tokens):
        return DENIED
    return None


def _deny(code: grpc.StatusCode, message: str):
    def abort(request, context):
        context.abort(code, message)
    return grpc.unary_unary_rpc_method_handler(abort)


class BearerTokenInterceptor(grpc.ServerInterceptor):
    def __init__(self, tokens: FrozenSet[str]):
        self._tokens = tokens

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(HEALTH_SERVICE_PREFIX):
            return continuation(handler_call_details)
        refused = refusal(self._tokens, dict(handler_call_details.invocation_metadata).get(
            "authorization", ""))
        if refused == UNAUTHENTICATED:
            return _deny(grpc.StatusCode.UNAUTHENTICATED, refused + " metadata")
        if refused:
            return _deny(grpc.StatusCode.PERMISSION_DENIED, refused)
        return continuation(handler_call_details)
