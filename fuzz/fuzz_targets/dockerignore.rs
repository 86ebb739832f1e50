#![no_main]
//! `.dockerignore` patterns, with paths to ask about on the last line.

libfuzzer_sys::fuzz_target!(|text: &str| spaceone_publish::fuzzing::dockerignore(text));
