#![no_main]
//! Image references (`image`, `FROM`, `also-push`, `cache-repo`).

libfuzzer_sys::fuzz_target!(|text: &str| spaceone_publish::fuzzing::reference(text));
