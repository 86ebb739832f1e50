//! Files outside the checkout that a run will read or write, checked while planning.
//!
//! A CA certificate is only read when the first TLS connection is made, and an output file
//! only written when everything is done: found then, a wrong path costs a whole build, and
//! for the outputs it comes after the push (the image is out, the later steps never hear
//! of it). So each is checked here, before the first byte is built or pushed, and the
//! error names the input (or CI variable) that gave the path.

use std::fs::OpenOptions;
use std::io::Read as _;
use std::path::Path;

use super::{input_error, PlanError};
use crate::inputs::{CiEnv, Inputs};

/// A CA bundle larger than this is not a CA bundle (the system's own is ~200 KiB).
const CA_FILE_LIMIT: u64 = 16 << 20;

/// Every output file the run will write, and every CA file it will read.
pub fn check(inputs: &Inputs) -> Result<(), PlanError> {
    if let Some(path) = &inputs.dotenv_file {
        writable(path).map_err(|problem| input_error(inputs, "dotenv-file", problem))?;
    }
    if let CiEnv::GitHub { output, summary } = &inputs.ci {
        for (variable, path) in [("GITHUB_OUTPUT", output), ("GITHUB_STEP_SUMMARY", summary)] {
            if let Some(path) = path {
                writable(path).map_err(|problem| PlanError::Environment { variable, problem })?;
            }
        }
    }
    if let Some(path) = &inputs.registry_ca_cert {
        ca_certificates(path)
            .map_err(|problem| input_error(inputs, "registry-ca-cert", problem))?;
    }
    spaceone_ca_cert(inputs)
}

/// `spaceone-ca-cert` alone, for the verbs that only talk to SpaceONE.
pub fn spaceone_ca_cert(inputs: &Inputs) -> Result<(), PlanError> {
    match &inputs.spaceone_ca_cert {
        Some(path) => ca_certificates(path)
            .map_err(|problem| input_error(inputs, "spaceone-ca-cert", problem)),
        None => Ok(()),
    }
}

/// Whether `path` can be appended to, or created: opened without creating it, so a
/// failed run leaves nothing behind.
fn writable(path: &Path) -> Result<(), String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(format!("{shown} is a directory, not a file")),
        Ok(_) => OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(|e| format!("{shown} cannot be written: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if !parent.is_dir() {
                return Err(format!(
                    "{shown} cannot be created: the directory {} does not exist",
                    parent.display()
                ));
            }
            rustix::fs::access(parent, rustix::fs::Access::WRITE_OK).map_err(|e| {
                format!(
                    "{shown} cannot be created: the directory {} is not writable ({e})",
                    parent.display()
                )
            })
        }
        Err(e) => Err(format!("{shown} cannot be written: {e}")),
    }
}

/// Whether `path` is a PEM file holding at least one certificate.
fn ca_certificates(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if meta.is_dir() {
        return Err(format!(
            "{shown} is a directory; give the PEM file (e.g. {shown}/ca.crt)"
        ));
    }
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(CA_FILE_LIMIT + 1).read_to_end(&mut pem))
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if pem.len() as u64 > CA_FILE_LIMIT {
        return Err(format!("{shown} is larger than 16 MiB: not a CA bundle"));
    }
    if pem.iter().all(u8::is_ascii_whitespace) {
        return Err(format!(
            "{shown} is empty; it must hold PEM CA certificates"
        ));
    }
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|_| format!("{shown} is not valid PEM"))?;
    if !certificates.is_empty() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&pem);
    if text.contains("-----BEGIN") {
        Err(format!(
            "{shown} holds no `BEGIN CERTIFICATE` block (a key alone is not a CA certificate)"
        ))
    } else {
        Err(format!(
            "{shown} is not PEM: no `-----BEGIN CERTIFICATE-----` block"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_that_hold_no_certificate_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let cases = [
            (dir.path().join("missing.pem"), "cannot read"),
            (dir.path().to_path_buf(), "is a directory"),
            (file("empty.pem", "\n"), "is empty"),
            (file("text.pem", "hello\n"), "is not PEM"),
            (
                file(
                    "key.pem",
                    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
                ),
                "no `BEGIN CERTIFICATE` block",
            ),
        ];
        for (path, expected) in cases {
            let err = ca_certificates(&path).unwrap_err();
            assert!(err.contains(expected), "{}: {err}", path.display());
        }
    }

    #[test]
    fn output_files_in_missing_or_read_only_places_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/out.env");
        assert!(writable(&missing).unwrap_err().contains("does not exist"));
        assert!(writable(dir.path()).unwrap_err().contains("is a directory"));
        assert!(writable(&dir.path().join("new.env")).is_ok());
    }
}
