#![no_main]
//! The Dockerfile parser, and word expansion on the same text as one word.

libfuzzer_sys::fuzz_target!(|text: &str| {
    spaceone_publish::fuzzing::dockerfile(text);
    spaceone_publish::fuzzing::expand_word(text);
});
