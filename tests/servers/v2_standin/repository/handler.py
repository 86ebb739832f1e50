"""Authentication for the stand-in: the handler the real 2.x service runs with on loopback
(core 2.0.144's SpaceONEAuthenticationHandler without the identity service; see
spaceone_v2_real_harness.py), so both servers authenticate alike."""

from spaceone_v2_real_harness import UnverifiedAuthenticationHandler

StandinAuthenticationHandler = UnverifiedAuthenticationHandler
