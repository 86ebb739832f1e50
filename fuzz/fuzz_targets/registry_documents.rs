#![no_main]
//! A registry's manifest, index or config: the first line is the `Content-Type`, the rest
//! the body.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&data[..0], data),
    };
    let content_type = String::from_utf8_lossy(head);
    spaceone_publish::fuzzing::registry_documents(&content_type, body);
});
