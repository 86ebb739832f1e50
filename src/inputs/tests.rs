//! Input resolution: precedence, validation messages, CI defaults.
use super::*;

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn precedence_github_then_plain_then_ci_then_default() {
    let i = Inputs::from_vars(vars(&[])).unwrap();
    assert_eq!(i.context, PathBuf::from("."));
    assert_eq!(i.output, Output::OciLayout("oci-layout".into()));

    let i = Inputs::from_vars(vars(&[
        ("GITLAB_CI", "true"),
        ("CI_REGISTRY_IMAGE", "registry.gitlab.com/g/plugin-a"),
        ("PUBLISH_IMAGE", "localhost:5000/b/plugin-b"),
    ]))
    .unwrap();
    assert_eq!(i.image.unwrap().repository, "b/plugin-b");
    assert_eq!(i.output, Output::Registry);

    let i = Inputs::from_vars(vars(&[
        ("INPUT_IMAGE", "localhost:5000/c/plugin-c"),
        ("PUBLISH_IMAGE", "localhost:5000/b/plugin-b"),
    ]))
    .unwrap();
    assert_eq!(i.image.as_ref().unwrap().repository, "c/plugin-c");
    assert_eq!(i.source_of("image"), "INPUT_IMAGE");
}

#[test]
fn empty_github_input_counts_as_unset() {
    let i = Inputs::from_vars(vars(&[("INPUT_DRY-RUN", ""), ("PUBLISH_DRY_RUN", "TRUE")])).unwrap();
    assert!(i.dry_run);
}

#[test]
fn bad_values_name_the_variable() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "INPUT_IMAGE",
            "Ghcr.io/Org/X",
            "input `image` (INPUT_IMAGE): repository names must be lower case",
        ),
        (
            "PUBLISH_DRY_RUN",
            "yes",
            "input `dry-run` (PUBLISH_DRY_RUN): `yes` is not a boolean",
        ),
        (
            "PUBLISH_BUILD_ARGS",
            "A=1\nB",
            "input `build-args` (PUBLISH_BUILD_ARGS): line 2: `B` is not KEY=VALUE",
        ),
        (
            "PUBLISH_PLATFORMS",
            "linux",
            "input `platforms` (PUBLISH_PLATFORMS): `linux` is not a platform",
        ),
        (
            "PUBLISH_SPACEONE_ENDPOINT",
            "https://x",
            "must start with grpc:// or grpc+ssl://",
        ),
        ("PUBLISH_TAGS", "1.0.0,-x", "`-x` is not a valid tag"),
        ("PUBLISH_OUTPUT", "docker", "`docker` is not an output"),
        ("PUBLISH_SPACEONE_API", "3", "must be auto, 1 or 2"),
        (
            "PUBLISH_PLATFORMS",
            "windows/amd64",
            "supported: linux/amd64",
        ),
        (
            "PUBLISH_PLATFORMS",
            "../../etc",
            "is not a platform this tool builds",
        ),
        (
            "PUBLISH_IMAGE",
            "localhost:0/a",
            "port `0` of `localhost:0` is out of range",
        ),
        (
            "PUBLISH_SOURCE_DATE_EPOCH",
            "253402300800",
            "is after 9999 (at most 253402207200",
        ),
        (
            "PUBLISH_REGISTRY_CHUNK_SIZE",
            "17592186044416MiB",
            "is too large",
        ),
        (
            "PUBLISH_REGISTRY_CHUNK_SIZE",
            "18446744073709551616",
            "is too large",
        ),
        ("PUBLISH_REGISTRY_CHUNK_SIZE", "0KiB", "is zero"),
        (
            "PUBLISH_INSECURE_REGISTRIES",
            "reg.local:5000/v2",
            "has a path",
        ),
        (
            "PUBLISH_INSECURE_REGISTRIES",
            "https://reg.local",
            "has a scheme",
        ),
        (
            "PUBLISH_INSECURE_REGISTRIES",
            "reg.local:http",
            "is not a number",
        ),
    ];
    for (var, value, expected) in cases {
        let err = Inputs::from_vars(vars(&[(var, value)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{var}={value}: {err}");
    }
}

#[test]
fn version_from_ci_tags_strips_v() {
    let i = Inputs::from_vars(vars(&[
        ("GITHUB_REF_TYPE", "tag"),
        ("GITHUB_REF_NAME", "v1.2.3"),
    ]))
    .unwrap();
    assert_eq!(i.version.as_deref(), Some("1.2.3"));
    let i = Inputs::from_vars(vars(&[("GITLAB_CI", "true"), ("CI_COMMIT_TAG", "1.4.0")])).unwrap();
    assert_eq!(i.version.as_deref(), Some("1.4.0"));
    assert_eq!(strip_v("version-1"), "version-1");
}

#[test]
fn image_tag_joins_tags_and_secrets_are_listed() {
    let i = Inputs::from_vars(vars(&[
        ("PUBLISH_IMAGE", "localhost:5000/a/plugin-x:1.0.0"),
        ("PUBLISH_REGISTRY_PASSWORD", "pw"),
        ("PUBLISH_SPACEONE_TOKEN", "tok"),
    ]))
    .unwrap();
    assert_eq!(i.tags, vec!["1.0.0"]);
    assert_eq!(i.secrets().len(), 2);
    assert_eq!(format!("{:?}", i.registry_password), "Some(***)");
}

#[test]
fn unknown_plain_variables_get_a_suggestion() {
    let i = Inputs::from_vars(vars(&[("PUBLISH_IMAGES", "x")])).unwrap();
    assert_eq!(
        i.unknown,
        vec!["PUBLISH_IMAGES is not an input (did you mean PUBLISH_IMAGE?)"]
    );
}

#[test]
fn a_malformed_secrets_line_is_named_but_never_shown() {
    for value in ["a=1\nhunter2", "=hunter2", "my id=hunter2"] {
        let err = Inputs::from_vars(vars(&[("PUBLISH_SECRETS", value)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("input `secrets` (PUBLISH_SECRETS): line "),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "the secret leaked: {err}");
    }
}

/// Found by the `secret_values` fuzz target: a refusal is the same whatever the lines'
/// values are, also when a line reads like the refusal's own words.
#[test]
fn a_secrets_refusal_depends_only_on_the_shape_of_the_lines() {
    let tricky = "\n\nB\n\nline 2: no `=` (expected `id=value`; the line is not shown\n";
    let masked: String = tricky
        .chars()
        .map(|c| if c.is_alphanumeric() { 'v' } else { c })
        .collect();
    let refusal = |v: &str| values::parse_secrets(v).unwrap_err();
    assert_eq!(refusal(tricky), refusal(&masked));
    assert!(
        refusal(tricky).starts_with("line 3: no `=`"),
        "{}",
        refusal(tricky)
    );
}

#[test]
fn a_sane_chunk_size_and_insecure_host_are_accepted() {
    let i = Inputs::from_vars(vars(&[
        ("PUBLISH_REGISTRY_CHUNK_SIZE", "1024MiB"),
        ("PUBLISH_INSECURE_REGISTRIES", "reg.local:5000, [::1]:5000"),
        ("PUBLISH_SOURCE_DATE_EPOCH", "253402207200"),
    ]))
    .unwrap();
    assert_eq!(i.registry_chunk_size, Some(1 << 30));
}

#[test]
fn every_verb_parses_by_its_name_and_plugin_verbs_print_it() {
    for (name, verb) in Verb::ALL {
        assert_eq!(Verb::parse(name), Ok(verb));
        if let Verb::Plugin(plugin_verb) = verb {
            assert_eq!(plugin_verb.to_string(), name);
        }
    }
    assert!(Verb::parse("publsh").unwrap_err().contains("not a verb"));
}

#[test]
fn every_documented_default_parses_into_its_field() {
    for def in INPUTS.iter().filter(|d| !d.default.is_empty()) {
        let mut inputs = Inputs::default();
        assert_eq!((def.set)(&mut inputs, def.default), Ok(()), "{}", def.name);
    }
}

#[test]
fn ci_variables_with_empty_values_count_as_unset() {
    let i = Inputs::from_vars(vars(&[
        ("GITLAB_CI", "true"),
        ("CI_REGISTRY_IMAGE", "  "),
        ("HOME", "/home/runner"),
        ("XDG_CACHE_HOME", ""),
    ]))
    .unwrap();
    assert_eq!(i.image, None);
    assert_eq!(i.ci, CiEnv::GitLab);
    assert_eq!(
        i.cache_dir,
        PathBuf::from("/home/runner/.cache/spaceone-publish")
    );
}
