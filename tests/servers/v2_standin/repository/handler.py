"""Authentication for the stand-in: spaceone-core 2.0.144's SpaceONEAuthenticationHandler
with the identity service taken out. The JWT in metadata `token` is decoded WITHOUT a
signature check; everything else (empty token, undecodable token, missing `did`,
`ver` != 2.0, SYSTEM_TOKEN + x_domain_id, meta for authorization/mutation) is core's
own code path."""

import logging

from spaceone.core.auth.jwt import JWTUtil
from spaceone.core.error import ERROR_AUTHENTICATE_FAILURE
from spaceone.core.handler.authentication_handler import SpaceONEAuthenticationHandler

_LOGGER = logging.getLogger(__name__)


class StandinAuthenticationHandler(SpaceONEAuthenticationHandler):
    def _initialize(self) -> None:
        # No identity connector: nothing is dialled.
        self.identity_conn = None

    def _authenticate(self, token: str, domain_id: str) -> dict:
        try:
            return JWTUtil.unverified_decode(token)
        except Exception:
            raise ERROR_AUTHENTICATE_FAILURE(message="failed to decode token.")

    def _check_app(self, client_id: str, domain_id: str):
        # Real server asks identity App.check; the stand-in grants no extra scoping.
        return [], []
