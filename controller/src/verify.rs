//! Commit signature verification (`--verify-commits ssh --allowed-signers FILE`), in pure Rust.
//!
//! A commit signed with `git commit -S` and `gpg.format=ssh` carries a `gpgsig` header holding an
//! `-----BEGIN SSH SIGNATURE-----` block (OpenSSH's SSHSIG) over the commit object without that
//! header. The head is trusted when that signature verifies, in the `git` namespace, with a key
//! of the allowed-signers file (OpenSSH's format, as git's `gpg.ssh.allowedSignersFile`):
//!
//! ```text
//! alice@example.com ssh-ed25519 AAAAC3Nza... alice's laptop
//! ci@example.com,bot@example.com namespaces="git",valid-after="20260101" ssh-ed25519 AAAA...
//! ```
//!
//! As git does, the key decides and the principal names the signer; the committer's e-mail is not
//! compared. `namespaces` must then include `git`, and `valid-after` / `valid-before`
//! (`YYYYMMDD[HHMM[SS]]`, UTC) bound the committer time. `cert-authority` lines (signatures by
//! certificates) are refused when the file is read rather than half supported, and so is any
//! other option, so no restriction written in the file is silently dropped. OpenPGP signatures
//! are not verified: such a head is refused with a message saying so.

use std::path::Path;

use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::civil::DateTime;
use ssh_key::{HashAlg, PublicKey, SshSig};

/// The namespace git signs commits in.
const NAMESPACE: &str = "git";

/// One line of an allowed-signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    pub principals: String,
    pub key: PublicKey,
    namespaces: Option<Vec<String>>,
    valid_after: Option<Timestamp>,
    valid_before: Option<Timestamp>,
}

/// The keys whose signatures are trusted.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    pub signers: Vec<AllowedSigner>,
}

impl AllowedSigners {
    pub fn load(path: &Path) -> Result<AllowedSigners, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the allowed-signers file {}: {}",
                path.display(),
                e.kind()
            )
        })?;
        let signers = AllowedSigners::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if signers.signers.is_empty() {
            return Err(format!(
                "{}: no key in the allowed-signers file: every commit would be refused",
                path.display()
            ));
        }
        Ok(signers)
    }

    /// Parses the file's text; an error names the line (1-based).
    pub fn parse(text: &str) -> Result<AllowedSigners, String> {
        let mut signers = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            signers.push(parse_line(line).map_err(|e| format!("line {}: {e}", i + 1))?);
        }
        Ok(AllowedSigners { signers })
    }
}

fn is_key_type(token: &str) -> bool {
    token.starts_with("ssh-") || token.starts_with("ecdsa-sha2-") || token.starts_with("sk-")
}

/// Splits `s` at the characters `sep` accepts when outside double quotes; `tokens` mode keeps
/// the quotes and drops empty pieces (the fields of a line), else quotes are removed and empty
/// pieces kept (the options of a field).
fn split_unquoted(s: &str, sep: impl Fn(char) -> bool, tokens: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
            if tokens {
                current.push(c);
            }
        } else if sep(c) && !quoted {
            if !tokens || !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !tokens || !current.is_empty() {
        out.push(current);
    }
    out
}

fn parse_line(line: &str) -> Result<AllowedSigner, String> {
    let tokens = split_unquoted(line, |c| c == ' ' || c == '\t', true);
    let Some(principals) = tokens.first() else {
        return Err("an empty entry".into());
    };
    let Some(at) = tokens.iter().skip(1).position(|t| is_key_type(t)).map(|p| p + 1) else {
        return Err("no key (expected `principals [options] ssh-ed25519 AAAA...`)".into());
    };
    let mut signer = AllowedSigner {
        principals: principals.trim_matches('"').to_string(),
        key: PublicKey::from_openssh(&format!(
            "{} {}",
            tokens[at],
            tokens.get(at + 1).map_or("", String::as_str)
        ))
        .map_err(|e| format!("the key is not a valid OpenSSH public key: {e}"))?,
        namespaces: None,
        valid_after: None,
        valid_before: None,
    };
    for opts in &tokens[1..at] {
        for opt in split_unquoted(opts, |c| c == ',', false) {
            let (name, value) = opt.split_once('=').unwrap_or((opt.as_str(), ""));
            match name.to_ascii_lowercase().as_str() {
                "namespaces" => {
                    signer.namespaces = Some(value.split(',').map(str::to_string).collect());
                }
                "valid-after" => signer.valid_after = Some(parse_time(value)?),
                "valid-before" => signer.valid_before = Some(parse_time(value)?),
                "cert-authority" => {
                    return Err(
                        "`cert-authority` (signatures by SSH certificates) is not supported; list the signing keys themselves"
                            .into(),
                    );
                }
                other => return Err(format!("the option `{other}` is not supported")),
            }
        }
    }
    Ok(signer)
}

/// `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, optionally ending in `Z`; UTC.
fn parse_time(value: &str) -> Result<Timestamp, String> {
    let digits = value.trim_end_matches(['Z', 'z']);
    let bad = || format!("`{value}` is not a time (YYYYMMDD[HHMM[SS]])");
    if !digits.chars().all(|c| c.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let n = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<i16>().ok()).unwrap_or(0);
    let (year, month, day) = (n(0..4), n(4..6) as i8, n(6..8) as i8);
    let (hour, minute, second) = (n(8..10) as i8, n(10..12) as i8, n(12..14) as i8);
    let civil = DateTime::new(year, month, day, hour, minute, second, 0).map_err(|_| bad())?;
    civil
        .to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

/// Who signed a commit, as reported in status.
pub fn describe(signer: &AllowedSigner) -> String {
    format!(
        "{} ({} {})",
        signer.principals,
        signer.key.algorithm(),
        signer.key.fingerprint(HashAlg::Sha256)
    )
}

/// Verifies `signature` (the `gpgsig` header) over `payload` (the commit without it), made at
/// `committed` (the committer time, Unix seconds). Returns the signer.
pub fn verify<'a>(
    signers: &'a AllowedSigners,
    signature: &str,
    payload: &[u8],
    committed: i64,
) -> Result<&'a AllowedSigner, String> {
    if signature
        .trim_start()
        .starts_with("-----BEGIN PGP SIGNATURE-----")
    {
        return Err(
            "it is signed with OpenPGP, which the controller does not verify; sign with an SSH key (gpg.format=ssh)".into(),
        );
    }
    let sig = SshSig::from_pem(signature.trim())
        .map_err(|e| format!("its signature is not an SSH signature block: {e}"))?;
    if sig.namespace() != NAMESPACE {
        return Err(format!(
            "its signature is for the namespace `{}`, not `{NAMESPACE}`",
            sig.namespace()
        ));
    }
    let fingerprint = sig.public_key().fingerprint(HashAlg::Sha256);
    let signer = signers
        .signers
        .iter()
        .find(|s| s.key.key_data() == sig.public_key())
        .ok_or_else(|| {
            format!("it is signed by the key {fingerprint}, which is not in the allowed signers")
        })?;
    if let Some(ns) = &signer.namespaces
        && !ns.iter().any(|n| n == NAMESPACE)
    {
        return Err(format!(
            "the allowed signer {} may not sign in the namespace `{NAMESPACE}`",
            signer.principals
        ));
    }
    let at = Timestamp::from_second(committed).unwrap_or(Timestamp::UNIX_EPOCH);
    if signer.valid_after.is_some_and(|t| at < t) || signer.valid_before.is_some_and(|t| at > t) {
        return Err(format!(
            "the key of {} is not valid at its committer time {at}",
            signer.principals
        ));
    }
    signer.key.verify(NAMESPACE, payload, &sig).map_err(|_| {
        format!(
            "its signature by {} does not verify: the commit was altered or the signature forged",
            describe(signer)
        )
    })?;
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKc06huHKwiNSjaLjrnuwoHCoi91Zpvh7R3FBcYfUPBz";

    #[test]
    fn allowed_signers_lines_are_read_with_their_options() {
        let text = format!(
            "# team\nalice@example.com {KEY} laptop\n\nci@x,bot@x namespaces=\"git,file\",valid-after=\"20260101\",valid-before=\"20270101Z\" {KEY}\n"
        );
        let s = AllowedSigners::parse(&text).unwrap();
        assert_eq!(s.signers.len(), 2);
        assert_eq!(s.signers[0].principals, "alice@example.com");
        assert_eq!(s.signers[1].principals, "ci@x,bot@x");
        assert_eq!(
            s.signers[1].namespaces.as_deref(),
            Some(&["git".to_string(), "file".to_string()][..])
        );
        assert_eq!(
            s.signers[1].valid_after.unwrap().to_string(),
            "2026-01-01T00:00:00Z"
        );
    }

    #[test]
    fn unsupported_options_and_bad_keys_are_errors_naming_the_line() {
        let ca = AllowedSigners::parse(&format!("a@x cert-authority {KEY}\n")).unwrap_err();
        assert!(ca.contains("line 1") && ca.contains("cert-authority"), "{ca}");
        let other = AllowedSigners::parse(&format!("\na@x no-touch-required {KEY}\n")).unwrap_err();
        assert!(
            other.contains("line 2") && other.contains("no-touch-required"),
            "{other}"
        );
        let bad = AllowedSigners::parse("a@x ssh-ed25519 AAAAnot-base64\n").unwrap_err();
        assert!(bad.contains("not a valid OpenSSH public key"), "{bad}");
        let time = AllowedSigners::parse(&format!("a@x valid-after=2026 {KEY}\n")).unwrap_err();
        assert!(time.contains("not a time"), "{time}");
        assert!(AllowedSigners::parse("a@x\n").unwrap_err().contains("no key"));
    }

    #[test]
    fn openpgp_and_garbage_are_refused_with_a_reason() {
        let s = AllowedSigners::parse(&format!("a@x {KEY}\n")).unwrap();
        let pgp = verify(
            &s,
            "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----",
            b"x",
            0,
        )
        .unwrap_err();
        assert!(pgp.contains("OpenPGP"), "{pgp}");
        let junk = verify(&s, "hello", b"x", 0).unwrap_err();
        assert!(junk.contains("not an SSH signature"), "{junk}");
    }
}
