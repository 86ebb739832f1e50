#![no_main]
//! A registry's `WWW-Authenticate` header.

libfuzzer_sys::fuzz_target!(|header: &str| spaceone_publish::fuzzing::www_authenticate(header));
