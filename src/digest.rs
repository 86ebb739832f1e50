//! Content digests (`sha256:<hex>`), parsed once at the edge.
//!
//! A [`Digest`] always holds a known algorithm and lower-case hex of the right length, so
//! code that takes `&Digest` never re-validates. [`DiffId`] is the digest of a layer's
//! *uncompressed* tar, kept as its own type so it can never be confused with the blob
//! digest in a manifest.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{input}` is not a digest: {reason}")]
pub struct DigestError {
    input: String,
    reason: &'static str,
}

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest::from_sha256(Sha256::digest(bytes).into())
    }

    pub fn from_sha256(raw: [u8; 32]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(raw),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as people read digests in logs.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    /// Path of this blob relative to an OCI layout root: `blobs/<alg>/<hex>`.
    pub fn blob_path(&self) -> std::path::PathBuf {
        ["blobs", self.algorithm.name(), &self.hex].iter().collect()
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| DigestError {
            input: s.to_string(),
            reason,
        };
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| err("missing `<algorithm>:`"))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(err("unsupported algorithm (sha256 or sha512)")),
        };
        if hex.len() != algorithm.hex_len() {
            return Err(err("wrong hex length"));
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(err("hex must be lower-case [0-9a-f]"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Digest of a layer's uncompressed tar stream (the config's `rootfs.diff_ids`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct DiffId(pub Digest);

impl fmt::Display for DiffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Hashes bytes as they pass, for streams that are written somewhere else.
#[derive(Default, Clone)]
pub struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Digest {
        Digest::from_sha256(self.inner.finalize().into())
    }
}

/// A writer adapter that hashes everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: std::io::Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::default(),
        }
    }

    pub fn finish(self) -> (W, Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let cases: &[(&str, bool)] = &[
            (empty, true),
            (
                "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                false,
            ),
            ("sha256:abc", false),
            ("md5:d41d8cd98f00b204e9800998ecf8427e", false),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                false,
            ),
        ];
        for (input, ok) in cases {
            assert_eq!(input.parse::<Digest>().is_ok(), *ok, "{input}");
        }
        assert_eq!(Digest::sha256_of(b"").to_string(), empty);
    }

    #[test]
    fn error_names_the_input() {
        let err = "sha256:xyz".parse::<Digest>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`sha256:xyz` is not a digest: wrong hex length"
        );
    }
}
