#![no_main]
//! Environment values that hold secrets (`secrets`, `registry-logins`) and other lists.

libfuzzer_sys::fuzz_target!(|text: &str| spaceone_publish::fuzzing::secret_values(text));
