//! The second round of shapes `password::verify` knows: Drupal's `$S$` and
//! its `U` upgrades, yescrypt, and the `{name}` forms of LDAP directories,
//! Spring Security and Joomla. Every comparison is constant time; a value
//! under a known prefix that does not parse is an error naming the format,
//! never the value.

use std::str::FromStr;

use subtle::ConstantTimeEq;

use super::kdf::{self, Digest};
use super::{too_costly, HashError, MAX_ROUNDS};

/// The highest Drupal `$S$` log2(iterations) computed: 2^24 (count `M`).
pub const MAX_DRUPAL_LOG2: u32 = 24;
/// Drupal refuses longer passwords.
const DRUPAL_MAX_PASSWORD_BYTES: usize = 512;

fn eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `$S$` + count + 8-character salt + 43 characters.
pub fn is_drupal(stored: &str) -> bool {
    stored.len() == 55 && stored.starts_with("$S$")
}

/// Drupal 7's `$S$`: SHA-512 iterated 2^count times over the password.
pub fn verify_drupal(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "Drupal $S$";
    let bytes = stored.as_bytes();
    if bytes.len() != 55 {
        return Err(HashError::Malformed(F));
    }
    let log2 = kdf::itoa64_index(bytes[3]).ok_or(HashError::Malformed(F))?;
    if !(7..=30).contains(&log2) {
        return Err(HashError::Malformed(F));
    }
    if log2 > MAX_DRUPAL_LOG2 {
        return Err(too_costly(F, "iterations", format!("2^{MAX_DRUPAL_LOG2}")));
    }
    if !stored
        .get(12..)
        .is_some_and(|hash| kdf::is_crypt64(hash, 43))
    {
        return Err(HashError::Malformed(F));
    }
    if pw.len() > DRUPAL_MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    let salt = &bytes[4..12];
    super::work()?;
    let mut h = Digest::Sha512.of(&[salt, pw]);
    for _ in 0..(1u32 << log2) {
        h = Digest::Sha512.of(&[&h, pw]);
    }
    let computed = kdf::crypt64_encode(&h);
    Ok(eq(&computed.as_bytes()[..43], &bytes[12..]))
}

/// Drupal's upgrade of Drupal 6 hashes: `U` before a `$S$`, `$P$` or `$H$`
/// hash of the password's hex MD5.
pub fn verify_drupal_upgraded(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    let inner = &stored[1..];
    let md5 = kdf::hex_encode(&Digest::Md5.of(&[pw]));
    if is_drupal(inner) {
        return verify_drupal(md5.as_bytes(), inner);
    }
    if inner.len() == 34 && (inner.starts_with("$P$") || inner.starts_with("$H$")) {
        return super::verify_bytes(md5.as_bytes(), inner);
    }
    Err(HashError::Malformed("Drupal U$"))
}

/// The yescrypt parameters of `$y$params$salt$hash`, checked against the
/// caps.
fn yescrypt_params(stored: &str) -> Result<yescrypt::Params, HashError> {
    const F: &str = "yescrypt";
    let field = stored.split('$').nth(2).ok_or(HashError::Malformed(F))?;
    // Flags, N and r: what libxcrypt and mkpasswd write. Longer parameters
    // carry p, t (time cost, up to 2^30: days of work), g or NROM, whose
    // cost cannot be bounded here before the work: refused.
    if field.len() != 3 {
        return Err(too_costly(
            F,
            "parameters beyond N and r (p, t, g or NROM)",
            "flags, N and r only",
        ));
    }
    let params = yescrypt::Params::from_str(field).map_err(|_| HashError::Malformed(F))?;
    let memory = 128u128 * u128::from(params.n()) * u128::from(params.r());
    if memory > u128::from(kdf::MAX_KDF_BYTES) || params.p() > kdf::MAX_LANES {
        return Err(too_costly(F, "memory or p", "1 GiB of memory and p = 16"));
    }
    Ok(params)
}

/// libxcrypt's yescrypt, `$y$`.
pub fn verify_yescrypt(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    use yescrypt::PasswordVerifier;
    yescrypt_params(stored)?;
    // libxcrypt writes a 256-bit digest: 43 characters
    if !stored
        .rsplit('$')
        .next()
        .is_some_and(|hash| kdf::is_crypt64(hash, 43))
    {
        return Err(HashError::Malformed("yescrypt"));
    }
    super::work()?;
    match yescrypt::Yescrypt::default().verify_password(pw, stored) {
        Ok(()) => Ok(true),
        Err(yescrypt::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(HashError::Malformed("yescrypt")),
    }
}

/// The `{name}` of a braced value, and what follows it.
pub fn braced(stored: &str) -> Option<(&str, &str)> {
    let rest = stored.strip_prefix('{')?;
    let end = rest.find('}')?;
    let name = &rest[..end];
    (!name.is_empty() && name.len() <= 40).then(|| (name, &rest[end + 1..]))
}

/// Does `password::verify` know this `{name}`?
pub fn knows_braced(name: &str) -> bool {
    BracedKind::of(name).is_some()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BracedKind {
    /// LDAP salted digests: `{SSHA}`, `{SSHA256}`, ...
    Salted(Digest),
    /// `{SHA}`: LDAP base64 or hex SHA-1
    Sha,
    /// `{SHA256}`: LDAP, Joomla or Spring's `{sha256}`, by the body
    Sha256,
    /// `{SHA384}`, `{SHA512}`: LDAP
    Plain(Digest),
    /// `{MD5}`: LDAP, hex, or Spring's, by the body
    Md5,
    /// `{PBKDF2}`: LDAP (HMAC-SHA1) or Spring's `{pbkdf2}`, by the body
    Pbkdf2,
    /// `{PBKDF2-SHA1}`, `{PBKDF2-SHA256}`, `{PBKDF2-SHA512}`: LDAP
    LdapPbkdf2(Digest),
    Crypt,
    Bcrypt,
    Noop,
    SpringPbkdf2V58,
    Scrypt,
    Argon2,
    /// Spring's `MessageDigestPasswordEncoder`: `{SHA-1}`, `{SHA-256}`
    SpringDigest(Digest),
    Ldap,
}

impl BracedKind {
    fn of(name: &str) -> Option<BracedKind> {
        Some(match name.to_ascii_lowercase().as_str() {
            "ssha" => BracedKind::Salted(Digest::Sha1),
            "ssha256" => BracedKind::Salted(Digest::Sha256),
            "ssha384" => BracedKind::Salted(Digest::Sha384),
            "ssha512" => BracedKind::Salted(Digest::Sha512),
            "smd5" => BracedKind::Salted(Digest::Md5),
            "sha" => BracedKind::Sha,
            "sha256" => BracedKind::Sha256,
            "sha384" => BracedKind::Plain(Digest::Sha384),
            "sha512" => BracedKind::Plain(Digest::Sha512),
            "md5" => BracedKind::Md5,
            "pbkdf2" => BracedKind::Pbkdf2,
            "pbkdf2-sha1" => BracedKind::LdapPbkdf2(Digest::Sha1),
            "pbkdf2-sha256" => BracedKind::LdapPbkdf2(Digest::Sha256),
            "pbkdf2-sha512" => BracedKind::LdapPbkdf2(Digest::Sha512),
            "crypt" => BracedKind::Crypt,
            "bcrypt" => BracedKind::Bcrypt,
            "noop" => BracedKind::Noop,
            "pbkdf2@springsecurity_v5_8" => BracedKind::SpringPbkdf2V58,
            "scrypt" | "scrypt@springsecurity_v5_8" => BracedKind::Scrypt,
            "argon2" | "argon2@springsecurity_v5_8" => BracedKind::Argon2,
            "sha-1" => BracedKind::SpringDigest(Digest::Sha1),
            "sha-256" => BracedKind::SpringDigest(Digest::Sha256),
            "ldap" => BracedKind::Ldap,
            _ => return None,
        })
    }
}

/// A `{name}` value.
pub fn verify_braced(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    let (name, body) = braced(stored).ok_or(HashError::Malformed("{…}"))?;
    let kind = BracedKind::of(name)
        .ok_or_else(|| HashError::UnknownFormat(format!("it starts with `{{{name}}}`")))?;
    match kind {
        BracedKind::Salted(d) => ldap_salted(pw, body, d),
        BracedKind::Sha => {
            if kdf::is_hex(body, 40) {
                hex_digest(pw, body, Digest::Sha1, "{SHA}")
            } else {
                ldap_plain(pw, body, Digest::Sha1, "{SHA}")
            }
        }
        BracedKind::Sha256 => {
            if kdf::is_hex(body, 80) {
                spring_sha256(pw, body)
            } else if body.len() > 65 && body.as_bytes()[64] == b':' && kdf::is_hex(&body[..64], 64)
            {
                joomla_sha256(pw, body)
            } else {
                ldap_plain(pw, body, Digest::Sha256, "{SHA256}")
            }
        }
        BracedKind::Plain(d) => ldap_plain(pw, body, d, plain_name(d)),
        BracedKind::Md5 => {
            if body.starts_with('{') {
                spring_digest(pw, body, Digest::Md5)
            } else if kdf::is_hex(body, 32) {
                hex_digest(pw, body, Digest::Md5, "{MD5}")
            } else {
                ldap_plain(pw, body, Digest::Md5, "{MD5}")
            }
        }
        BracedKind::Pbkdf2 => {
            if kdf::is_hex(body, 80) {
                spring_pbkdf2(pw, body, Digest::Sha1, 8, 185_000, "{pbkdf2}")
            } else {
                ldap_pbkdf2(pw, body, Digest::Sha1)
            }
        }
        BracedKind::LdapPbkdf2(d) => ldap_pbkdf2(pw, body, d),
        BracedKind::Crypt => {
            let known = ["$1$", "$5$", "$6$", "$2a$", "$2b$", "$2x$", "$2y$", "$y$"];
            if !known.iter().any(|p| body.starts_with(p)) {
                return Err(HashError::UnknownFormat(
                    "{CRYPT} with a crypt form other than $1$, $5$, $6$, $2?$ or $y$".into(),
                ));
            }
            super::verify_bytes(pw, body)
        }
        BracedKind::Bcrypt => {
            if super::detect(body) != Some(super::Format::Bcrypt) {
                return Err(HashError::Malformed("{bcrypt}"));
            }
            super::verify_bytes(pw, body)
        }
        BracedKind::Noop => Ok(eq(pw, body.as_bytes())),
        BracedKind::SpringPbkdf2V58 => spring_pbkdf2(
            pw,
            body,
            Digest::Sha256,
            16,
            310_000,
            "{pbkdf2@SpringSecurity_v5_8}",
        ),
        BracedKind::Scrypt => spring_scrypt(pw, body),
        BracedKind::Argon2 => {
            if super::detect(body) != Some(super::Format::Argon2) {
                return Err(HashError::Malformed("{argon2}"));
            }
            super::verify_bytes(pw, body)
        }
        BracedKind::SpringDigest(d) => spring_digest(pw, body, d),
        BracedKind::Ldap => match braced(body).map(|(n, _)| n.to_ascii_lowercase()) {
            Some(n) if n == "ssha" || n == "sha" => verify_braced(pw, body),
            _ => Err(HashError::Malformed("{ldap}")),
        },
    }
}

/// `{SSHA}` and friends: base64(digest(password ‖ salt) ‖ salt).
/// The braces of an LDAP digest, as errors name the format.
fn plain_name(d: Digest) -> &'static str {
    match d {
        Digest::Md5 => "{MD5}",
        Digest::Sha1 => "{SHA}",
        Digest::Sha256 => "{SHA256}",
        Digest::Sha384 => "{SHA384}",
        Digest::Sha512 => "{SHA512}",
    }
}

/// The braces of a salted LDAP digest.
fn salted_name(d: Digest) -> &'static str {
    match d {
        Digest::Md5 => "{SMD5}",
        Digest::Sha1 => "{SSHA}",
        Digest::Sha256 => "{SSHA256}",
        Digest::Sha384 => "{SSHA384}",
        Digest::Sha512 => "{SSHA512}",
    }
}

fn ldap_salted(pw: &[u8], body: &str, d: Digest) -> Result<bool, HashError> {
    let f = salted_name(d);
    let raw = kdf::base64_decode(body).ok_or(HashError::Malformed(f))?;
    if raw.len() <= d.size() {
        return Err(HashError::Malformed(f));
    }
    let (digest, salt) = raw.split_at(d.size());
    Ok(eq(&d.of(&[pw, salt]), digest))
}

/// `{SHA}` and friends: base64(digest(password)).
fn ldap_plain(pw: &[u8], body: &str, d: Digest, format: &'static str) -> Result<bool, HashError> {
    let raw = kdf::base64_decode(body).ok_or(HashError::Malformed(format))?;
    if raw.len() != d.size() {
        return Err(HashError::Malformed(format));
    }
    Ok(eq(&d.of(&[pw]), &raw))
}

/// A hex digest of the password alone, either case.
fn hex_digest(pw: &[u8], body: &str, d: Digest, format: &'static str) -> Result<bool, HashError> {
    let raw = kdf::hex_decode(body).ok_or(HashError::Malformed(format))?;
    if raw.len() != d.size() {
        return Err(HashError::Malformed(format));
    }
    Ok(eq(&d.of(&[pw]), &raw))
}

/// passlib's adapted base64: `.` for `+`, no padding.
fn ab64(text: &str, format: &'static str) -> Result<Vec<u8>, HashError> {
    kdf::base64_decode(&text.replace('.', "+")).ok_or(HashError::Malformed(format))
}

/// `{PBKDF2-SHA256}rounds$salt$hash`, as OpenLDAP's pw-pbkdf2 and passlib
/// write it.
fn ldap_pbkdf2(pw: &[u8], body: &str, d: Digest) -> Result<bool, HashError> {
    let f = match d {
        Digest::Sha256 => "{PBKDF2-SHA256}",
        Digest::Sha512 => "{PBKDF2-SHA512}",
        _ => "{PBKDF2}",
    };
    let parts: Vec<&str> = body.split('$').collect();
    let [rounds, salt, hash] = parts[..] else {
        return Err(HashError::Malformed(f));
    };
    let rounds: u64 = rounds.parse().map_err(|_| HashError::Malformed(f))?;
    let salt = ab64(salt, f)?;
    let expected = ab64(hash, f)?;
    kdf::pbkdf2_costs(f, rounds, expected.len())?;
    if expected.len() < super::MIN_KEY_BYTES {
        return Err(HashError::Malformed(f));
    }
    let key = kdf::pbkdf2(f, d, pw, &salt, rounds, expected.len())?;
    Ok(eq(&key, &expected))
}

/// Joomla 3.2's `{SHA256}` + hex(sha256(password ‖ salt)) + `:` + salt.
pub fn joomla_sha256(pw: &[u8], body: &str) -> Result<bool, HashError> {
    const F: &str = "Joomla {SHA256}";
    let (hex, salt) = body.split_once(':').ok_or(HashError::Malformed(F))?;
    let expected = kdf::hex_decode(hex)
        .filter(|e| e.len() == 32)
        .ok_or(HashError::Malformed(F))?;
    Ok(eq(&Digest::Sha256.of(&[pw, salt.as_bytes()]), &expected))
}

/// Spring's `StandardPasswordEncoder`: hex(salt(8) ‖ digest), the digest
/// SHA-256 applied 1024 times, first to salt ‖ password.
fn spring_sha256(pw: &[u8], body: &str) -> Result<bool, HashError> {
    const F: &str = "Spring {sha256}";
    let raw = kdf::hex_decode(body).ok_or(HashError::Malformed(F))?;
    let (salt, expected) = raw.split_at(8);
    super::work()?;
    let mut h = Digest::Sha256.of(&[salt, pw]);
    for _ in 1..1024 {
        h = Digest::Sha256.of(&[&h]);
    }
    Ok(eq(&h, expected))
}

/// Spring's `MessageDigestPasswordEncoder`: optional `{salt}` + hex digest
/// of password ‖ `{salt}`.
fn spring_digest(pw: &[u8], body: &str, d: Digest) -> Result<bool, HashError> {
    let f = match d {
        Digest::Md5 => "{MD5}",
        Digest::Sha1 => "{SHA-1}",
        Digest::Sha256 => "{SHA-256}",
        _ => "Spring message digest",
    };
    let (salt, hex) = match body.strip_prefix('{') {
        Some(rest) => {
            let end = rest.find('}').ok_or(HashError::Malformed(f))?;
            (&body[..end + 2], &rest[end + 1..])
        }
        None => ("", body),
    };
    let expected = kdf::hex_decode(hex)
        .filter(|e| e.len() == d.size())
        .ok_or(HashError::Malformed(f))?;
    Ok(eq(&d.of(&[pw, salt.as_bytes()]), &expected))
}

/// Spring's `Pbkdf2PasswordEncoder`: hex(salt ‖ key), 32-byte key.
fn spring_pbkdf2(
    pw: &[u8],
    body: &str,
    d: Digest,
    salt_len: usize,
    rounds: u64,
    format: &'static str,
) -> Result<bool, HashError> {
    let raw = kdf::hex_decode(body)
        .filter(|r| r.len() == salt_len + 32)
        .ok_or(HashError::Malformed(format))?;
    let (salt, expected) = raw.split_at(salt_len);
    debug_assert!(rounds <= u64::from(MAX_ROUNDS));
    let key = kdf::pbkdf2(format, d, pw, salt, rounds, expected.len())?;
    Ok(eq(&key, expected))
}

/// Spring's `SCryptPasswordEncoder`: `$` hex(log2 N·2^16 + r·2^8 + p) `$`
/// base64(salt) `$` base64(key).
fn spring_scrypt(pw: &[u8], body: &str) -> Result<bool, HashError> {
    const F: &str = "Spring {scrypt}";
    let parts: Vec<&str> = body.split('$').collect();
    let ["", params, salt, key] = parts[..] else {
        return Err(HashError::Malformed(F));
    };
    let params = u64::from_str_radix(params, 16).map_err(|_| HashError::Malformed(F))?;
    let ln = params >> 16;
    let (r, p) = (((params >> 8) & 0xff) as u32, (params & 0xff) as u32);
    if ln >= 63 {
        return Err(HashError::Malformed(F));
    }
    let salt = kdf::base64_decode(salt).ok_or(HashError::Malformed(F))?;
    let expected = kdf::base64_decode(key).ok_or(HashError::Malformed(F))?;
    kdf::scrypt_costs(F, 1u64 << ln, r, p, expected.len())?;
    if expected.len() < super::MIN_KEY_BYTES {
        return Err(HashError::Malformed(F));
    }
    let computed = kdf::scrypt(F, pw, &salt, 1u64 << ln, r, p, expected.len())?;
    Ok(eq(&computed, &expected))
}
