"""SpaceONE repository 2.x stand-in (test harness only). See ../v2_server.py."""
