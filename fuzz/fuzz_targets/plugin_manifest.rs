#![no_main]
//! The plugin manifest YAML (`plugin.yaml`).

libfuzzer_sys::fuzz_target!(|text: &str| spaceone_publish::fuzzing::plugin_manifest(text));
