//! Versions and tags: the rules people know from docker/metadata-action, plus SpaceONE's
//! dev-build versions.
//!
//! - A final release `1.2.3` with `semver-tags` also gets `1.2`, `1` (not for major zero,
//!   where it would mean nothing) and `latest`; a pre-release `1.2.3-rc.1` gets only
//!   itself, so `latest` never moves to a pre-release.
//! - A dev build is `X.Y.Z.YYYYMMDD.HHMMSS`, the scheme cloudforet-io's workflows use, but
//!   stamped with the *commit* time so the same commit gives the same version and digest.
//! - `sha-tag` adds `sha-<7 hex>` of the commit.
//!
//! Explicit `tags` are taken as given: rules add nothing to them.

/// The version of a dev build: `base` plus the commit time in `zone` (the offset in force
/// at that time, daylight saving included).
pub fn dev_version(base: &str, epoch: u64, zone: &jiff::tz::TimeZone) -> String {
    let local = crate::time::timestamp(epoch).to_zoned(zone.clone());
    format!("{base}.{}", local.strftime("%Y%m%d.%H%M%S"))
}

/// What the rules add to a version.
#[derive(Debug, Clone, Default)]
pub struct TagRules {
    pub semver: bool,
    /// The commit, for `sha-<short>`.
    pub sha: Option<String>,
}

/// Tags for `version`: the explicit list if any, else the version and what the rules add.
pub fn tags_for(version: &str, explicit: &[String], rules: &TagRules) -> Vec<String> {
    if !explicit.is_empty() {
        return explicit.to_vec();
    }
    let mut tags = vec![version.to_string()];
    if rules.semver {
        // SemVer 2.0 as the `semver` crate reads it: no leading zeros, no `v`.
        if let Some(v) = semver::Version::parse(version)
            .ok()
            .filter(|v| v.pre.is_empty())
        {
            tags.push(format!("{}.{}", v.major, v.minor));
            if v.major != 0 {
                tags.push(v.major.to_string());
            }
            tags.push("latest".into());
        }
    }
    if let Some(sha) = &rules.sha {
        tags.push(format!("sha-{}", &sha[..sha.len().min(7)]));
    }
    let mut seen = std::collections::BTreeSet::new();
    tags.retain(|t| seen.insert(t.clone()));
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rules_table() {
        let semver = TagRules {
            semver: true,
            sha: None,
        };
        let sha = TagRules {
            semver: false,
            sha: Some("0123456789abcdef".into()),
        };
        let plain = TagRules::default();
        let cases: &[(&str, &[&str], &TagRules, &[&str])] = &[
            ("1.2.3", &[], &plain, &["1.2.3"]),
            ("1.2.3", &[], &semver, &["1.2.3", "1.2", "1", "latest"]),
            ("0.4.1", &[], &semver, &["0.4.1", "0.4", "latest"]),
            ("2.0.0-rc.1", &[], &semver, &["2.0.0-rc.1"]),
            (
                "1.2.3+build.5",
                &[],
                &semver,
                &["1.2.3+build.5", "1.2", "1", "latest"],
            ),
            (
                "1.1.0.20240105.193012",
                &[],
                &semver,
                &["1.1.0.20240105.193012"],
            ),
            ("1.2", &[], &semver, &["1.2"]),
            ("01.2.3", &[], &semver, &["01.2.3"]),
            ("v1.2.3", &[], &semver, &["v1.2.3"]),
            ("1.2.3", &[], &sha, &["1.2.3", "sha-0123456"]),
            ("1.2.3", &["edge", "1.2.3"], &semver, &["edge", "1.2.3"]),
        ];
        for (version, explicit, rules, expected) in cases {
            let explicit: Vec<String> = explicit.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                tags_for(version, &explicit, rules),
                *expected,
                "{version} {rules:?}"
            );
        }
    }

    #[test]
    fn dev_versions_use_the_commit_time_in_the_zone() {
        // 2024-01-05T10:30:12Z
        let epoch = 1_704_450_612;
        let zone = |name: &str| jiff::tz::TimeZone::get(name).unwrap();
        let fixed = |hours| jiff::tz::TimeZone::fixed(jiff::tz::offset(hours));
        assert_eq!(
            dev_version("1.1.0", epoch, &jiff::tz::TimeZone::UTC),
            "1.1.0.20240105.103012"
        );
        assert_eq!(
            dev_version("1.1.0", epoch, &fixed(9)),
            "1.1.0.20240105.193012"
        );
        assert_eq!(
            dev_version("1.1.0", epoch, &fixed(-11)),
            "1.1.0.20240104.233012"
        );
        assert_eq!(
            dev_version("1.1.0", epoch, &zone("Asia/Tokyo")),
            "1.1.0.20240105.193012"
        );
        // Berlin is +01:00 in January and +02:00 in July (2024-07-05T10:30:12Z).
        assert_eq!(
            dev_version("1.1.0", epoch, &zone("Europe/Berlin")),
            "1.1.0.20240105.113012"
        );
        assert_eq!(
            dev_version("1.1.0", 1_720_175_412, &zone("Europe/Berlin")),
            "1.1.0.20240705.123012"
        );
    }
}
