//! Report signing: an Ed25519 key per data folder, a manifest of every file's SHA-256, and
//! its signature.
//!
//! - `DATA/keys/report-signing.key`: the private key (PKCS#8 PEM), mode 0600, created on first
//!   use; `DATA/keys/report-signing.pub.pem`: the public key (SPKI PEM) for auditors.
//! - In the report: `manifest.json` (the files, data range, canh version, rule set hash and
//!   the signing key's fingerprint), `manifest.sig` (the 64-byte raw Ed25519 signature over
//!   the exact bytes of `manifest.json`) and `signing-key.pub.pem`, a convenience copy of the
//!   public key. An auditor who holds the public key can also check the signature without
//!   canh: `openssl pkeyutl -verify -pubin -inkey KEY.pem -rawin -in manifest.json -sigfile
//!   manifest.sig`.
//!
//! Verification trusts the key it is given (`--pubkey`) or the data folder's; the copy inside
//! the report is used only when neither is available, with a warning, because whoever could
//! alter the report could also replace that copy.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
pub const PUBKEY_COPY: &str = "signing-key.pub.pem";
pub const FORMAT: &str = "canh-report/1";
const KEY_FILE: &str = "report-signing.key";
const PUB_FILE: &str = "report-signing.pub.pem";
/// Largest manifest or key file read.
const MAX_SMALL_FILE: u64 = 4 * 1024 * 1024;
/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}: {1}")]
    File(String, String),
    #[error("{0}")]
    Other(String),
}

pub fn keys_dir(data: &Path) -> PathBuf {
    data.join("keys")
}

pub fn public_key_path(data: &Path) -> PathBuf {
    keys_dir(data).join(PUB_FILE)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

fn unpem(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text.split_once(&begin)?.1.split_once(&end)?.0;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// The public key as SPKI PEM.
pub fn public_pem(raw: &[u8]) -> String {
    let mut der = SPKI_ED25519_PREFIX.to_vec();
    der.extend_from_slice(raw);
    pem("PUBLIC KEY", &der)
}

/// The 32 raw key bytes of an Ed25519 SPKI PEM.
pub fn parse_public_pem(text: &str) -> Option<Vec<u8>> {
    let der = unpem(text, "PUBLIC KEY")?;
    let raw = der.strip_prefix(&SPKI_ED25519_PREFIX[..])?;
    (raw.len() == 32).then(|| raw.to_vec())
}

/// `sha256:<hex>` of the raw public key.
pub fn fingerprint(raw: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(raw))
}

fn read_small(p: &Path) -> std::io::Result<Vec<u8>> {
    let len = std::fs::metadata(p)?.len();
    if len > MAX_SMALL_FILE {
        return Err(std::io::Error::other(format!(
            "{len} bytes is more than expected (at most {MAX_SMALL_FILE})"
        )));
    }
    std::fs::read(p)
}

/// The data folder's signing key, created (mode 0600) on first use.
pub fn load_or_create_key(data: &Path) -> anyhow::Result<Ed25519KeyPair> {
    use anyhow::Context;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = keys_dir(data);
    let key_path = dir.join(KEY_FILE);
    if key_path.exists() {
        let mode = std::fs::metadata(&key_path)?.permissions().mode() & 0o777;
        anyhow::ensure!(
            mode & 0o077 == 0,
            "{}: mode {mode:o} lets others read the signing key; chmod 600 it",
            key_path.display()
        );
        let text = String::from_utf8(read_small(&key_path)?)
            .with_context(|| format!("{}: not PEM", key_path.display()))?;
        let der = unpem(&text, "PRIVATE KEY")
            .with_context(|| format!("{}: no PRIVATE KEY block", key_path.display()))?;
        let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| anyhow::anyhow!("{}: not an Ed25519 key: {e}", key_path.display()))?;
        // The public file is derived; restore it when missing.
        let pub_path = dir.join(PUB_FILE);
        if !pub_path.exists() {
            std::fs::write(&pub_path, public_pem(kp.public_key().as_ref()))?;
        }
        return Ok(kp);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| anyhow::anyhow!("cannot generate an Ed25519 key"))?;
    let kp = Ed25519KeyPair::from_pkcs8(doc.as_ref())
        .map_err(|e| anyhow::anyhow!("generated key rejected: {e}"))?;
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&key_path)
        .with_context(|| format!("creating {}", key_path.display()))?;
    f.write_all(pem("PRIVATE KEY", doc.as_ref()).as_bytes())?;
    f.sync_all()?;
    std::fs::write(dir.join(PUB_FILE), public_pem(kp.public_key().as_ref()))?;
    Ok(kp)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigningKey {
    pub algorithm: String,
    pub fingerprint: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub canh_version: String,
    pub generated_at: String,
    pub organization: String,
    pub language: String,
    pub period: BTreeMap<String, String>,
    pub data_range: BTreeMap<String, Option<String>>,
    pub rule_set: BTreeMap<String, String>,
    pub audit_log: BTreeMap<String, String>,
    pub counts: BTreeMap<String, u64>,
    pub signing_key: SigningKey,
    pub files: Vec<FileEntry>,
}

pub fn hash_file(p: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h)?;
    Ok((n, format!("{:x}", h.finalize())))
}

/// Hashes `names` in `dir` into the manifest, writes it and its signature and the public key
/// copy.
pub fn seal(
    dir: &Path,
    mut m: Manifest,
    names: &[&str],
    key: &Ed25519KeyPair,
) -> anyhow::Result<()> {
    use anyhow::Context;
    m.files = names
        .iter()
        .map(|n| {
            let (bytes, sha256) =
                hash_file(&dir.join(n)).with_context(|| format!("hashing {n}"))?;
            Ok(FileEntry {
                name: (*n).to_owned(),
                bytes,
                sha256,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let raw = key.public_key().as_ref();
    m.signing_key = SigningKey {
        algorithm: "Ed25519".into(),
        fingerprint: fingerprint(raw),
    };
    let mut bytes = serde_json::to_vec_pretty(&m)?;
    bytes.push(b'\n');
    std::fs::write(dir.join(MANIFEST), &bytes)?;
    std::fs::write(dir.join(SIGNATURE), key.sign(&bytes).as_ref())?;
    std::fs::write(dir.join(PUBKEY_COPY), public_pem(raw))?;
    Ok(())
}

/// What verification found.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub key_source: String,
    pub warnings: Vec<String>,
}

/// Whether [`verify`] has a key to trust, or only the report's own copy.
pub fn has_trusted_key(pubkey: Option<&Path>, data: Option<&Path>) -> bool {
    pubkey.is_some() || data.is_some_and(|d| public_key_path(d).exists())
}

/// Checks a report folder: the signature over `manifest.json` with the trusted key, then
/// every listed file's size and SHA-256, and that nothing else is in the folder.
pub fn verify(
    dir: &Path,
    pubkey: Option<&Path>,
    data: Option<&Path>,
) -> Result<Verified, VerifyError> {
    let file_err = |n: &str, msg: String| VerifyError::File(dir.join(n).display().to_string(), msg);
    let mut warnings = Vec::new();
    let manifest_bytes =
        read_small(&dir.join(MANIFEST)).map_err(|e| file_err(MANIFEST, e.to_string()))?;
    let sig = read_small(&dir.join(SIGNATURE)).map_err(|e| file_err(SIGNATURE, e.to_string()))?;
    let (key_path, key_source) = match (pubkey, data.map(public_key_path)) {
        (Some(p), _) => (p.to_path_buf(), format!("{} (--pubkey)", p.display())),
        (None, Some(p)) if p.exists() => {
            (p.clone(), format!("{} (the data folder's)", p.display()))
        }
        _ => (
            dir.join(PUBKEY_COPY),
            format!(
                "{} (the report's own copy)",
                dir.join(PUBKEY_COPY).display()
            ),
        ),
    };
    let key_text = read_small(&key_path)
        .map_err(|e| VerifyError::File(key_path.display().to_string(), e.to_string()))?;
    let raw = parse_public_pem(&String::from_utf8_lossy(&key_text)).ok_or_else(|| {
        VerifyError::File(
            key_path.display().to_string(),
            "not an Ed25519 public key (SPKI PEM)".into(),
        )
    })?;
    UnparsedPublicKey::new(&ED25519, &raw)
        .verify(&manifest_bytes, &sig)
        .map_err(|_| {
            file_err(
                SIGNATURE,
                format!(
                    "the signature does not match {MANIFEST} under key {} ({key_source}): \
                     the manifest was changed or signed with another key",
                    fingerprint(&raw)
                ),
            )
        })?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| file_err(MANIFEST, format!("not a canh report manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(file_err(
            MANIFEST,
            format!("format {:?}, expected {FORMAT:?}", manifest.format),
        ));
    }
    if manifest.signing_key.fingerprint != fingerprint(&raw) {
        return Err(file_err(
            MANIFEST,
            format!(
                "names signing key {} but was verified with {}",
                manifest.signing_key.fingerprint,
                fingerprint(&raw)
            ),
        ));
    }
    for f in &manifest.files {
        if f.name.contains('/') || f.name.starts_with('.') {
            return Err(file_err(
                MANIFEST,
                format!("file name {:?} leaves the report folder", f.name),
            ));
        }
        let p = dir.join(&f.name);
        let (bytes, sha) = match hash_file(&p) {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(file_err(
                    &f.name,
                    "listed in the manifest but missing".into(),
                ));
            }
            Err(e) => return Err(file_err(&f.name, e.to_string())),
        };
        if bytes != f.bytes || sha != f.sha256 {
            return Err(file_err(
                &f.name,
                format!(
                    "changed: SHA-256 {sha} ({bytes} bytes), the manifest says {} ({} bytes)",
                    f.sha256, f.bytes
                ),
            ));
        }
    }
    let listed: std::collections::HashSet<&str> =
        manifest.files.iter().map(|f| f.name.as_str()).collect();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| VerifyError::Other(format!("{}: {e}", dir.display())))?;
    let mut extra = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if ![MANIFEST, SIGNATURE, PUBKEY_COPY].contains(&name.as_str())
            && !listed.contains(name.as_str())
        {
            extra.push(name);
        }
    }
    extra.sort();
    if let Some(first) = extra.first() {
        return Err(file_err(
            first,
            "not in the manifest (added after signing)".into(),
        ));
    }
    if has_trusted_key(pubkey, data) {
        // The convenience copy should be the trusted key; a different one is worth saying.
        if let Ok(copy) = std::fs::read_to_string(dir.join(PUBKEY_COPY))
            && parse_public_pem(&copy).as_deref() != Some(&raw[..])
        {
            warnings.push(format!(
                "{PUBKEY_COPY} in the report is not the trusted key"
            ));
        }
    }
    Ok(Verified {
        manifest,
        key_source,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_and_fingerprint() {
        let d = tempfile::tempdir().unwrap();
        let kp = load_or_create_key(d.path()).unwrap();
        let again = load_or_create_key(d.path()).unwrap();
        assert_eq!(kp.public_key().as_ref(), again.public_key().as_ref());
        let text = std::fs::read_to_string(public_key_path(d.path())).unwrap();
        assert_eq!(parse_public_pem(&text).unwrap(), kp.public_key().as_ref());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys_dir(d.path()).join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(fingerprint(kp.public_key().as_ref()).starts_with("sha256:"));
    }
}
