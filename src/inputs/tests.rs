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
